//! Which position of an ordered log (a Kafka partition's offsets) may be committed while
//! messages after it are still in flight: everything below the lowest one not yet done.

use std::collections::BTreeSet;

/// The positions of one partition handed out and not yet done.
#[derive(Debug, Default)]
pub struct Watermark {
    in_flight: BTreeSet<i64>,
    highest_done: Option<i64>,
    /// The commit position last reported, or the first position handed out.
    reported: Option<i64>,
}

impl Watermark {
    /// A message at `position` was handed out.
    pub fn start(&mut self, position: i64) {
        self.in_flight.insert(position);
        self.reported.get_or_insert(position);
    }

    /// The message at `position` is done (delivered or dead-lettered). Returns the position to
    /// commit, as Kafka counts it (the next message to read), when it moved forward.
    pub fn finish(&mut self, position: i64) -> Option<i64> {
        self.in_flight.remove(&position);
        self.highest_done = Some(self.highest_done.map_or(position, |h| h.max(position)));
        let candidate = self.committable()?;
        if self.reported.is_some_and(|r| candidate <= r) {
            return None;
        }
        self.reported = Some(candidate);
        Some(candidate)
    }

    /// One past the highest done position with nothing in flight below it.
    pub fn committable(&self) -> Option<i64> {
        let past_done = self.highest_done? + 1;
        Some(
            self.in_flight
                .first()
                .map_or(past_done, |&lowest| lowest.min(past_done)),
        )
    }

    /// Nothing in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_stop_below_the_lowest_in_flight() {
        let mut w = Watermark::default();
        for p in 10..14 {
            w.start(p);
        }
        assert_eq!(w.finish(11), None, "10 still in flight");
        assert_eq!(w.finish(13), None);
        assert_eq!(w.finish(10), Some(12), "10 and 11 done, 12 not");
        assert_eq!(w.finish(12), Some(14));
        assert!(w.is_idle());
        w.start(14);
        assert_eq!(w.finish(14), Some(15));
    }
}
