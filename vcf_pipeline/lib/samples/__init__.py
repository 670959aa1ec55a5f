"""Samples beyond their names: pedigrees (PED files) and the inheritance questions asked of a family."""
