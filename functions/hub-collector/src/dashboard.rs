//! The dashboard: one self-contained HTML page.
