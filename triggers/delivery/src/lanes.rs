//! The in-flight window of a pair: at most `limit` messages at once, and never two of the same
//! key at once, each key's messages in the order they arrived. The broker crate asks it what to
//! start: the window holds the waiting messages, not tasks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

/// What a pair keeps in order (`fnhost.io/order`); each broker crate picks its key from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// One message at a time per key (NATS subject; Kafka partition and message key; Kinesis
    /// partition key), in the order they arrived: the default.
    #[default]
    PerKey,
    /// Nothing: each message is its own key, so up to the window's limit run at once whatever
    /// their keys.
    None,
}

/// Messages of type `T` under keys of type `K` (a subject, a partition, a shard).
#[derive(Debug)]
pub struct Lanes<K, T> {
    limit: usize,
    running: HashSet<K>,
    waiting: HashMap<K, VecDeque<T>>,
    /// Keys with waiting messages and no message running, oldest first.
    ready: VecDeque<K>,
    waiting_count: usize,
}

impl<K: Hash + Eq + Clone, T> Lanes<K, T> {
    /// A window of `limit` messages in flight (at least 1).
    pub fn new(limit: usize) -> Self {
        Lanes {
            limit: limit.max(1),
            running: HashSet::new(),
            waiting: HashMap::new(),
            ready: VecDeque::new(),
            waiting_count: 0,
        }
    }

    /// A message arrives: returned if it may start now, else kept until [`Lanes::finish`]
    /// hands it out.
    pub fn push(&mut self, key: K, item: T) -> Option<T> {
        let lane_idle = !self.running.contains(&key);
        let nothing_before = self.waiting.get(&key).is_none_or(VecDeque::is_empty);
        if lane_idle && nothing_before && self.running.len() < self.limit {
            self.running.insert(key);
            return Some(item);
        }
        if lane_idle && nothing_before {
            self.ready.push_back(key.clone());
        }
        self.waiting.entry(key).or_default().push_back(item);
        self.waiting_count += 1;
        None
    }

    /// The message of `key` finished: returns the messages that may start now.
    pub fn finish(&mut self, key: &K) -> Vec<(K, T)> {
        if self.running.remove(key) && self.waiting.get(key).is_some_and(|q| !q.is_empty()) {
            self.ready.push_back(key.clone());
        }
        let mut start = Vec::new();
        while self.running.len() < self.limit {
            let Some(next) = self.ready.pop_front() else {
                break;
            };
            let queue = self.waiting.get_mut(&next);
            let Some(item) = queue.and_then(VecDeque::pop_front) else {
                continue;
            };
            if self.waiting.get(&next).is_some_and(VecDeque::is_empty) {
                self.waiting.remove(&next);
            }
            self.waiting_count -= 1;
            self.running.insert(next.clone());
            start.push((next, item));
        }
        start
    }

    /// Messages running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Messages waiting for their lane or for room.
    pub fn waiting(&self) -> usize {
        self.waiting_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_key_and_at_most_the_limit() {
        let mut lanes = Lanes::new(2);
        assert_eq!(lanes.push("a", 1), Some(1));
        assert_eq!(lanes.push("a", 2), None, "a is busy");
        assert_eq!(lanes.push("b", 3), Some(3));
        assert_eq!(lanes.push("c", 4), None, "no room");
        assert_eq!((lanes.running(), lanes.waiting()), (2, 2));
        // a finishes: c has waited for room since it arrived, a's next message only for its
        // lane: c goes first.
        assert_eq!(lanes.finish(&"a"), [("c", 4)]);
        assert_eq!(lanes.finish(&"b"), [("a", 2)]);
        assert_eq!(lanes.finish(&"c"), []);
        assert_eq!(lanes.finish(&"a"), []);
        assert_eq!((lanes.running(), lanes.waiting()), (0, 0));
    }

    #[test]
    fn a_keys_messages_keep_their_order() {
        let mut lanes = Lanes::new(8);
        let mut started = vec![lanes.push(0, 0).expect("first starts")];
        for i in 1..5 {
            assert_eq!(lanes.push(0, i), None);
        }
        while let Some((_, next)) = lanes.finish(&0).pop() {
            started.push(next);
        }
        assert_eq!(started, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_limit_of_one_is_strict_order_across_keys() {
        let mut lanes = Lanes::new(1);
        assert_eq!(lanes.push("x", 1), Some(1));
        assert_eq!(lanes.push("y", 2), None);
        assert_eq!(lanes.push("x", 3), None);
        assert_eq!(lanes.finish(&"x"), [("y", 2)]);
        assert_eq!(lanes.finish(&"y"), [("x", 3)]);
    }
}
