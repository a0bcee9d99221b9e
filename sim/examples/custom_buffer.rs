//! A buffer kind of your own: plug it into the model and see what it costs.
//!
//! The receiver here reads 16 MiB of 40 KiB messages into a fixed 64 KiB
//! buffer that never grows: when the next read would run past its end, it
//! moves the bytes of the unfinished message back to the front (a
//! `memmove` the application pays for). The report's `app` copy row counts
//! those moves; compare with `scenarios/dynamic_buffer.toml`, where a
//! doubling buffer pays only while it grows.
//!
//! `cargo run --release -p simnet-sim --example custom_buffer`

use simnet_sim::buffer::{ReceiveBuffer, Received};
use simnet_sim::config::{FramingConfig, FramingKind, Scenario, SendPath};
use simnet_sim::event::{NoObserver, Step};
use simnet_sim::world::World;

/// A fixed buffer that compacts instead of growing.
struct Compacting {
    capacity: u64,
    message: u64,
    /// Where the unfinished message starts and ends in the buffer.
    start: u64,
    end: u64,
}

impl ReceiveBuffer for Compacting {
    fn name(&self) -> &'static str {
        "compacting"
    }

    fn read(&mut self, at: u64, n: u64) -> Received {
        let mut got = Received::default();
        let (mut pos, stop) = (at, at + n);
        while pos < stop {
            if self.end == self.capacity {
                // Out of room at the back: move the unfinished bytes to the
                // front.
                got.grows += 1;
                got.copied += self.end - self.start;
                self.end -= self.start;
                self.start = 0;
            }
            let to_delimiter = self.message - pos % self.message;
            let k = to_delimiter.min(stop - pos).min(self.capacity - self.end);
            self.end += k;
            pos += k;
            if k == to_delimiter {
                got.messages += 1;
                self.start = self.end;
            }
        }
        got
    }
}

fn main() {
    let mut sc = Scenario::two_hosts(16 << 20, 40 * 1024, SendPath::Write);
    sc.flows[0].framing = Some(FramingConfig {
        kind: FramingKind::Delimited,
        delimiter: b'\n',
        header: 0,
        trailer: 0,
    });
    let mut obs = NoObserver;
    let mut world = World::new(&sc, &mut obs).expect("a valid scenario");
    let buffer = Compacting {
        capacity: 64 * 1024,
        message: 40 * 1024,
        start: 0,
        end: 0,
    };
    println!("receive buffer: {}", buffer.name());
    world
        .set_receive_buffer(0, Box::new(buffer))
        .expect("flow 0 exists");
    let r = world.run();
    let moves = r.hosts[1].counters.get(Step::DynamicGrow);
    let messages = r.hosts[1].counters.get(Step::ReadUntilMessage);
    println!("outcome: {}", r.outcome.name());
    println!("messages read: {}", messages.count);
    println!(
        "compactions: {}, bytes moved: {} (CPU {} ns)",
        moves.count, moves.bytes, moves.cpu_ns
    );
}
