//! A run with one host bridged to a real network, on the wall clock.
//!
//! Owns [`World::run_external`]: events run when their time has come on the
//! clock the [`ExternalPort`] keeps, frames from the port arrive at the
//! simulated host's NIC when they come, frames the host sends to the absent
//! host go out through the port. Does not touch the device: the port does
//! (the `simnet` tool's TAP backend).

use super::{arriving, World};
use crate::engine::Nanos;
use crate::external::ExternalPort;
use crate::provenance::FrameInfo;
use crate::report::{self, Outcome, RunReport};

/// Longest an external-port run sleeps between checks for a stop request.
const MAX_WAIT: Nanos = 10_000_000;

impl World<'_> {
    /// Runs with host `tap.host`'s port bridged to `port`, on the wall
    /// clock `port` keeps: events run when their time has come, frames from
    /// the port arrive at the NIC when they come. Ends when every flow is
    /// done (and simnet's sockets have delivered everything), at the time
    /// limit, when the user asks, or when the port fails.
    pub fn run_external(&mut self, port: &mut dyn ExternalPort) -> RunReport {
        let expected = report::expected_hashes(&self.flows, &self.hosts);
        let Some(peer) = self.kernel_host else {
            return self.report(Outcome::PortError, &expected.join().unwrap_or_default());
        };
        let limit = self.scenario.time_limit;
        let outcome = loop {
            let now = port.now();
            while self.q.peek_time().is_some_and(|t| t <= now) {
                let (t, ev) = self.q.pop().expect("peeked");
                self.events += 1;
                if t >= self.next_sample {
                    self.take_sample(t);
                }
                // An event runs at its time; the clock of the captures never
                // goes back to it from a frame that came in later.
                self.now = self.now.max(t);
                self.dispatch(t, ev);
                self.flush_events();
            }
            if let Err(e) = self.flush_port(port) {
                self.port_error = Some(e.to_string());
                break Outcome::PortError;
            }
            if self.all_done() {
                break Outcome::Ok;
            }
            if port.stop_requested() {
                break Outcome::Interrupted;
            }
            if now >= limit {
                break Outcome::TimeLimit;
            }
            // Sleep until the next event is due (at most 10 ms, to notice
            // a stop request), or a frame comes.
            let wait = self.q.peek_time().map_or(MAX_WAIT, |t| t - now.min(t));
            let mut buf = self.free.pop().unwrap_or_default();
            match port.recv(&mut buf, wait.min(MAX_WAIT)) {
                Ok(true) => {
                    let t = port.now().max(self.now);
                    self.now = t;
                    let h = 1 - peer;
                    if self.want_frames {
                        let mut info = FrameInfo::network();
                        let host = &self.hosts[h];
                        arriving(&mut self.ports, host, self.foresee, (h, t), &buf, &mut info);
                    }
                    self.arrive(h, t, buf);
                    self.flush_events();
                }
                Ok(false) => self.free.push(buf),
                Err(e) => {
                    self.port_error = Some(e.to_string());
                    break Outcome::PortError;
                }
            }
        };
        self.now = self.now.max(port.now().min(limit));
        self.last_sample();
        let expected = expected.join().unwrap_or_default();
        self.report(outcome, &expected)
    }

    /// Why the external port failed, if it did.
    pub fn port_error(&self) -> Option<&str> {
        self.port_error.as_deref()
    }

    /// Hands the frames the bridged port sent to the real wire.
    fn flush_port(&mut self, port: &mut dyn ExternalPort) -> std::io::Result<()> {
        let mut result = Ok(());
        for frame in self.to_port.drain(..) {
            if result.is_ok() {
                result = port.send(&frame);
            }
            self.free.push(frame);
        }
        result
    }
}
