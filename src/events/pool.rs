//! Event pools and the bus that feeds them: which pools take an event, their serials and
//! buffers (Python's `EventListenerPool._acceptEvent` and `events.notify`). Pure bookkeeping;
//! the actor writes the envelopes to the listeners.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::config::LogLevel;

use super::types::{subscription_mask, Event};

/// The global event serial. Python's `GlobalSerial` is module state that a restart (SIGHUP,
/// `reload`) keeps, so serials go on growing across restarts; the actor is rebuilt then, so
/// the counter lives here.
static GLOBAL_SERIAL: AtomicU64 = AtomicU64::new(0);

/// An event in one pool's buffer: its global serial, its serial in this pool, the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub serial: u64,
    pub pool_serial: u64,
    pub event: Arc<Event>,
}

impl Queued {
    /// The bytes written to a listener: header line, then the payload (`len` in characters).
    pub fn envelope(&self, server: &str, pool: &str) -> Vec<u8> {
        let payload = &self.event.payload;
        format!(
            "ver:3.0 server:{server} serial:{} pool:{pool} poolserial:{} eventname:{} len:{}\n{payload}",
            self.serial,
            self.pool_serial,
            self.event.kind.name(),
            payload.chars().count(),
        )
        .into_bytes()
    }
}

/// One `[eventlistener:x]` pool's subscriptions and buffer.
#[derive(Debug)]
pub struct Pool {
    pub name: String,
    /// One mask per name in `events=` (Python subscribes once per name, so an event matching
    /// two of them, `PROCESS_STATE` and `PROCESS_STATE_EXITED`, is buffered twice).
    subscriptions: Vec<u32>,
    buffer_size: usize,
    /// The last pool serial handed out.
    serial: Option<u64>,
    buffer: VecDeque<Queued>,
}

impl Pool {
    pub fn new(name: &str, events: &[String], buffer_size: usize) -> Pool {
        Pool {
            name: name.to_string(),
            subscriptions: events.iter().filter_map(|e| subscription_mask(e)).collect(),
            buffer_size: buffer_size.max(1),
            serial: None,
            buffer: VecDeque::new(),
        }
    }

    /// The union of the subscriptions.
    pub fn mask(&self) -> u32 {
        self.subscriptions.iter().fold(0, |m, s| m | s)
    }

    fn next_serial(&mut self) -> u64 {
        let s = self.serial.map_or(0, |s| s.wrapping_add(1));
        self.serial = Some(s);
        s
    }

    /// `_acceptEvent`: appends (or, for a rejected event, puts back at the head), dropping the
    /// oldest event when the buffer is full.
    pub fn accept(&mut self, q: Queued, head: bool, log: &mut Vec<(LogLevel, String)>) {
        log.push((
            LogLevel::Debug,
            format!(
                "rebuffering event {} for pool {} (buf size={}, max={})",
                q.serial,
                self.name,
                self.buffer.len(),
                self.buffer_size
            ),
        ));
        self.put(q, head, log);
    }

    fn put(&mut self, q: Queued, head: bool, log: &mut Vec<(LogLevel, String)>) {
        if self.buffer.len() >= self.buffer_size {
            if let Some(old) = self.buffer.pop_front() {
                log.push((
                    LogLevel::Error,
                    format!(
                        "pool {} event buffer overflowed, discarding event {}",
                        self.name, old.serial
                    ),
                ));
            }
        }
        if head {
            self.buffer.push_front(q);
        } else {
            self.buffer.push_back(q);
        }
    }

    /// The oldest buffered event, taken out for dispatch.
    pub fn pop(&mut self) -> Option<Queued> {
        self.buffer.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

/// Every pool, in the order they subscribed (Python's callback order), and what they want.
#[derive(Debug, Default)]
pub struct Bus {
    pools: Vec<Pool>,
    /// The union of every pool's subscriptions: an event nobody wants costs one test.
    wanted: u32,
}

impl Bus {
    /// Whether any pool takes events of `bit`s (checked before a payload is built).
    pub fn wants(&self, bits: u32) -> bool {
        self.wanted & bits != 0
    }

    pub fn add(&mut self, pool: Pool) {
        self.pools.push(pool);
        self.recompute();
    }

    /// Forgets a pool (its group is removed) and its buffered events.
    pub fn remove(&mut self, name: &str) {
        self.pools.retain(|p| p.name != name);
        self.recompute();
    }

    fn recompute(&mut self) {
        self.wanted = self.pools.iter().fold(0, |m, p| m | p.mask());
    }

    pub fn pool_mut(&mut self, name: &str) -> Option<&mut Pool> {
        self.pools.iter_mut().find(|p| p.name == name)
    }

    /// `events.notify`: every pool subscribed to the event's type buffers it (once per matching
    /// subscription). The global serial is taken when the first pool accepts it. Returns the
    /// names of the pools that took it (to dispatch) and log lines.
    pub fn notify(&mut self, event: Event, log: &mut Vec<(LogLevel, String)>) -> Vec<String> {
        let bit = event.kind.bit();
        let mut takers = Vec::new();
        if self.wanted & bit == 0 {
            return takers;
        }
        let event = Arc::new(event);
        let mut serial = None;
        for pool in &mut self.pools {
            let times = pool.subscriptions.iter().filter(|&&m| m & bit != 0).count();
            if times == 0 {
                continue;
            }
            let serial =
                *serial.get_or_insert_with(|| GLOBAL_SERIAL.fetch_add(1, Ordering::Relaxed));
            let q = Queued {
                serial,
                pool_serial: pool.next_serial(),
                event: Arc::clone(&event),
            };
            pool.put(q.clone(), false, log);
            for _ in 1..times {
                pool.accept(q.clone(), false, log);
            }
            takers.push(pool.name.clone());
        }
        takers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;
    use crate::process::ProcessState;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn overflow_discards_the_oldest() {
        let mut bus = Bus::default();
        bus.add(Pool::new("p", &names(&["TICK_5"]), 2));
        let mut log = Vec::new();
        for when in [5, 10, 15] {
            bus.notify(Event::tick(EventType::Tick5, when), &mut log);
        }
        assert_eq!(log.len(), 1);
        assert!(log[0]
            .1
            .starts_with("pool p event buffer overflowed, discarding event "));
        let pool = bus.pool_mut("p").unwrap();
        assert_eq!(pool.pop().unwrap().event.payload, "when:10");
        assert_eq!(pool.pop().unwrap().pool_serial, 2);
    }

    #[test]
    fn unwanted_events_take_no_serial() {
        let mut bus = Bus::default();
        bus.add(Pool::new("a", &names(&["TICK_5"]), 10));
        bus.add(Pool::new("b", &names(&["PROCESS_GROUP"]), 10));
        let mut log = Vec::new();
        assert!(bus
            .notify(Event::remote_communication("t", "d"), &mut log)
            .is_empty());
        let takers = bus.notify(Event::tick(EventType::Tick5, 5), &mut log);
        assert_eq!(takers, ["a"]);
        let a = bus.pool_mut("a").unwrap().pop().unwrap();
        bus.notify(Event::group(true, "g"), &mut log);
        let b = bus.pool_mut("b").unwrap().pop().unwrap();
        assert_eq!(b.serial, a.serial + 1);
        assert_eq!((a.pool_serial, b.pool_serial), (0, 0));
    }

    #[test]
    fn two_matching_subscriptions_buffer_twice() {
        let mut bus = Bus::default();
        bus.add(Pool::new(
            "p",
            &names(&["PROCESS_STATE", "PROCESS_STATE_EXITED"]),
            10,
        ));
        let mut log = Vec::new();
        let exited = Event {
            kind: EventType::ProcessState(ProcessState::Exited),
            payload: String::new(),
        };
        bus.notify(exited, &mut log);
        assert!(log[0].1.starts_with("rebuffering event "));
        let pool = bus.pool_mut("p").unwrap();
        let (a, b) = (pool.pop().unwrap(), pool.pop().unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn envelope_counts_characters() {
        let q = Queued {
            serial: 34,
            pool_serial: 3,
            event: Arc::new(Event::remote_communication("t", "ünï")),
        };
        assert_eq!(
            String::from_utf8(q.envelope("supspec", "listener")).unwrap(),
            "ver:3.0 server:supspec serial:34 pool:listener poolserial:3 \
             eventname:REMOTE_COMMUNICATION len:10\ntype:t\nünï"
        );
    }
}
