"""Pure domain logic: no I/O, no clock, no randomness. Time and seeds are parameters."""
