//! The template's checks, one concept per module.

mod boilerplate;
mod data_at_rest;
mod environment_size;
mod event_patterns;
mod hub;
mod iam;
mod lint;
mod sar;
mod sdk_calls;
mod settings;
mod stackset;
