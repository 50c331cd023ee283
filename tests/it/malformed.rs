//! Malformed scenarios exit 2 naming file, line and key (filled in below).
