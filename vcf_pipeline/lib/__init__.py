"""Plain Python building blocks of the pipeline; nothing here imports dagster."""
