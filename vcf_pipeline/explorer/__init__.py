"""The variant explorer: a read-only web app over the same `lib` functions as the command line."""
