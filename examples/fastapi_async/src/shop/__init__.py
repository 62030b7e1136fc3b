"""A small shop: products with stock, orders that take from it."""
