//! Tidy checks (filled in below).
