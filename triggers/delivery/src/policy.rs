//! Retries: how long to wait after a failed or throttled attempt, and when a message goes to
//! dead letter.

use std::time::Duration;

/// How a pair retries (its trigger's `fnhost.io/max-attempts` and the dispatcher's backoff).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts before the message goes to dead letter (throttled ones do not count).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each one.
    pub first_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
    /// Whether the trigger names a dead-letter destination. Without one, a message that used
    /// up its attempts is retried at the longest wait until it is delivered: never dropped.
    pub dead_letter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            dead_letter: false,
        }
    }
}

/// What to do after an attempt that did not deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then send the same message again.
    RetryAfter(Duration),
    /// Give the message to the dead-letter destination.
    DeadLetter,
}

impl RetryPolicy {
    /// The wait after `failed` failed attempts (1 = the first one).
    pub fn backoff(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        self.first_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// After the `failed`-th failed attempt of a message.
    pub fn after_failure(&self, failed: u32) -> Next {
        if self.dead_letter && failed >= self.max_attempts {
            Next::DeadLetter
        } else {
            Next::RetryAfter(self.backoff(failed))
        }
    }

    /// After a throttled attempt (`asked`: the function's `Retry-After`), with `throttled`
    /// throttled attempts in a row so far: the function's wait if it gave one, else the backoff.
    pub fn after_throttle(&self, throttled: u32, asked: Option<Duration>) -> Duration {
        asked.map_or_else(
            || self.backoff(throttled),
            |wait| wait.min(self.max_backoff),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_longest_wait() {
        let policy = RetryPolicy::default();
        let waits: Vec<u128> = (1..=8).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn dead_letter_only_when_one_is_named() {
        let keep = RetryPolicy::default();
        assert_eq!(
            keep.after_failure(5),
            Next::RetryAfter(Duration::from_secs(8))
        );
        assert_eq!(
            keep.after_failure(50),
            Next::RetryAfter(Duration::from_secs(30))
        );
        let dlq = RetryPolicy {
            dead_letter: true,
            ..RetryPolicy::default()
        };
        assert_eq!(
            dlq.after_failure(4),
            Next::RetryAfter(Duration::from_secs(4))
        );
        assert_eq!(dlq.after_failure(5), Next::DeadLetter);
    }

    #[test]
    fn throttling_waits_as_asked_within_bounds() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.after_throttle(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.after_throttle(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
        assert_eq!(policy.after_throttle(2, None), Duration::from_secs(1));
    }
}
