"""Repositories and read queries over MongoDB (PyMongo async); one implementation."""
