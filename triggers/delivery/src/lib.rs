//! `fnhost-delivery`: what every message trigger does the same, whichever broker the message
//! came from (`docs/design/004-message-triggers.md`):
//!
//! - [`event`]: a broker message as the function sees it: the Kubeless event headers
//!   (`event-id`, `event-type`, `event-time`, `event-namespace`) and the content type.
//! - [`answer`]: what a function's HTTP answer means for the message (delivered, throttled,
//!   failed).
//! - [`policy`]: retries with exponential backoff, and when a message goes to dead letter.
//! - [`post`]: the HTTP client that POSTs to a function's Service.
//! - [`deliver`]: one message to one function until it is delivered or must go to dead letter.
//! - [`lanes`]: the in-flight window: at most N messages at once, in order per key.
//! - [`watermark`]: which position may be committed while later ones are still in flight.
//! - [`metrics`]: the dispatcher's counters, per trigger and function.
//!
//! Nothing here knows a broker: the broker crates acknowledge, commit and publish dead letters.

pub mod answer;
pub mod deliver;
pub mod event;
pub mod lanes;
pub mod metrics;
pub mod policy;
pub mod post;
pub mod watermark;
