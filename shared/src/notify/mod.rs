//! Notifications: delivering events to webhooks, signed as Standard Webhooks says, with
//! retries on a schedule driven by the injected clock.

pub mod sealing;
pub mod sender;
pub mod signing;
