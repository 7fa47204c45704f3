"""Residents' pages: sign-in, the neighborhood shop, group cards, basket, sharing, my orders."""
