"""Thin Reflex states: parse UI input, call one service, assign the result."""
