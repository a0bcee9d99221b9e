//! A receive buffer kind plugged in from outside the crate is used by the
//! model, and what it reports is charged and counted.

use simnet_sim::buffer::{ReceiveBuffer, Received};
use simnet_sim::config::{Scenario, SendPath};
use simnet_sim::event::{NoObserver, Step};
use simnet_sim::report::Outcome;
use simnet_sim::world::World;

/// Copies every byte once more, one "message" per read.
struct CopyEverything;

impl ReceiveBuffer for CopyEverything {
    fn name(&self) -> &'static str {
        "copy everything"
    }

    fn read(&mut self, _at: u64, n: u64) -> Received {
        Received {
            grows: 1,
            copied: n,
            messages: 1,
        }
    }
}

#[test]
fn a_plugged_in_buffer_is_charged_for_what_it_copies() {
    let sc = Scenario::two_hosts(1 << 20, 65536, SendPath::Write);
    let mut obs = NoObserver;
    let mut w = World::new(&sc, &mut obs).unwrap();
    w.set_receive_buffer(0, Box::new(CopyEverything)).unwrap();
    assert!(w.set_receive_buffer(7, Box::new(CopyEverything)).is_err());
    let r = w.run();
    assert_eq!(r.outcome, Outcome::Ok);
    let rx = &r.hosts[1].counters;
    assert_eq!(rx.get(Step::DynamicGrow).bytes, 1 << 20);
    assert_eq!(rx.get(Step::ReadUntilMessage).count, r.flows[0].reads);
    assert!(rx.get(Step::DynamicGrow).cpu_ns > 0);
}
