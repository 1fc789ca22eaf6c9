//! The escape suite: attempts to get out of the sandbox, each of which must be contained.
