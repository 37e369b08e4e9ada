//! Test support for toilkit, and the home of cross-function tests.
//!
//! - [`moto`]: a real AWS emulator (`moto_server`) on loopback, so the real
//!   SDK serializes and parses every call;
//! - [`slack`]: a real HTTP receiver that records webhook posts and can be
//!   scripted to answer 429 or 5xx;
//! - [`lambda`]: runs a function's real binary under cargo-lambda's Runtime
//!   API emulator and invokes it;
//! - [`logs_subscription`]: CloudWatch Logs subscription deliveries as
//!   Lambda receives them (base64 of gzip);
//! - [`runtime_api`]: a loopback stand-in for the Runtime API's init phase,
//!   which records the init error a binary reports (cargo-lambda keeps none);
//! - [`loopback`]: the loopback HTTP server those stand-ins are built on;
//! - [`config_service`]: AWS Config's compliance API, which moto lacks,
//!   answered from a list of open violations;
//! - [`patch_manager`]: the Systems Manager calls moto lacks (managed
//!   instances, patch states, a public parameter), answered from a fleet,
//!   in front of moto;
//! - [`call_times`]: when each AWS call left, and the busiest second of
//!   each operation;
//! - [`cloudformation`]: moto's CloudFormation through its Query API;
//! - [`faults`]: AWS's transient failures as wire responses, for
//!   aws-smithy-mocks, and an SDK clock that never waits;
//! - [`json`]: whether a JSON text repeats a key in one object (serde_json
//!   keeps the last, the WAF log extractor the first), and the header a WAF
//!   record carries as a full parser reads it;
//! - [`gate`]: one AWS call held, stalled or failed at the wire, for races and
//!   deadlines against the emulator;
//! - [`process`]: child processes that never outlive the test;
//! - [`step_functions`]: state machines run in moto's executor, and the
//!   path an execution took;
//! - [`tool`]: the project's tools run, and their failures told in full;
//! - [`tables`]: DynamoDB tables shaped as the template makes them;
//! - [`ec2`]: moto's default subnets, for seeding an ALB;
//! - [`elbv2`]: exact snapshots of an ALB listener's rules;
//! - [`not_run`]: a check whose tool is missing says so (and fails in CI);
//! - [`registry`]: the functions, listed once for all the tooling;
//! - [`report`]: a run's report, read as its user reads it;
//! - [`result_bus`]: a result event bus whose events a test reads back;
//! - [`settings`]: a function's settings rejected, as the init error says it;
//! - [`workspace`]: where the venv, the samples and the binaries are.

pub mod call_times;
pub mod cloudformation;
pub mod config_service;
pub mod ec2;
pub mod elbv2;
pub mod faults;
pub mod gate;
pub mod json;
pub mod lambda;
pub mod logs_subscription;
pub mod loopback;
pub mod moto;
pub mod not_run;
pub mod patch_manager;
pub mod process;
pub mod registry;
pub mod report;
pub mod result_bus;
pub mod runtime_api;
pub mod settings;
pub mod slack;
pub mod step_functions;
pub mod tables;
pub mod tool;
pub mod workspace;

pub use gate::{Gate, Latch};
pub use lambda::LambdaEmulator;
pub use moto::Moto;
pub use not_run::not_run;
pub use result_bus::ResultBus;
pub use slack::{Reply, SlackReceiver};
