//! Embedded CPython that runs users' `event_handler.py` files unmodified.
//!
//! Knows hooks and their signatures, not Redis keys or Celery.
