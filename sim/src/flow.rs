//! Flows: a TCP connection between two hosts and the workload on it.
//!
//! Owns [`Flow`], what the world knows of a flow across its two hosts:
//! which hosts and sockets are its ends, its port, and its [`Track`]
//! (writes not yet read, write-to-read latency). Owns [`open`]: each flow's
//! two sockets created on their hosts (the receiver listening, the sender
//! connecting from an ephemeral port), with the application state at each
//! end and the data the sender will write.
//!
//! Does not run anything: the applications ([`crate::app`]) and the stack
//! do, on their hosts.

use smoltcp::wire::IpAddress;

use crate::app::data::DataSource;
use crate::app::receiver::Receiver;
use crate::app::sender::Sender;
use crate::app::Track;
use crate::config::{ConfigError, Scenario};
use crate::engine::Rng;
use crate::host::Host;
use crate::socket::{End, Socket, ANY_PORT};

/// First ephemeral port; flow `i` connects from `EPHEMERAL_BASE + i`
/// (Linux `ip_local_port_range` starts at 32768; IANA's range at 49152).
const EPHEMERAL_BASE: u16 = 49152;

/// One flow, as the world routes it.
pub struct Flow {
    /// The sending and receiving hosts.
    pub from: usize,
    pub to: usize,
    pub port: u16,
    /// Index of each end's socket on its host.
    pub send_sock: usize,
    pub recv_sock: usize,
    pub track: Track,
}

impl Flow {
    pub fn sender<'h>(&self, hosts: &'h [Host]) -> &'h Sender {
        hosts[self.from].sockets[self.send_sock]
            .end
            .sender()
            .expect("a flow's sending socket")
    }

    pub fn receiver<'h>(&self, hosts: &'h [Host]) -> &'h Receiver {
        hosts[self.to].sockets[self.recv_sock]
            .end
            .receiver()
            .expect("a flow's receiving socket")
    }

    /// Both applications are done.
    pub fn done(&self, hosts: &[Host]) -> bool {
        self.sender(hosts).done() && self.receiver(hosts).done()
    }
}

/// The port flow `i`'s sending socket connects from (what a capture shows
/// as its source port).
pub fn client_port(i: usize) -> u16 {
    EPHEMERAL_BASE + i as u16
}

/// Opens every flow of `sc` on `hosts`: sockets, listen and connect, and
/// the sender's data (its seed drawn from `rng`, in flow order, all cut
/// from one block of random data). With
/// `[tap]`, a receiving socket on simnet's host accepts the kernel's
/// connection from any port.
pub fn open(sc: &Scenario, hosts: &mut [Host], rng: &mut Rng) -> Result<Vec<Flow>, ConfigError> {
    let kernel = sc.tap_hosts().map(|t| t.1);
    let mut flows = Vec::with_capacity(sc.flows.len());
    let mut block = None;
    for (i, fc) in sc.flows.iter().enumerate() {
        let host = |name: &str| sc.host_index(name).expect("validated");
        let (from, to) = (host(&fc.from), host(&fc.to));
        let client_port = client_port(i);
        let send_handle = hosts[from].add_socket(fc.bytes);
        let recv_handle = hosts[to].add_socket(fc.bytes);
        hosts[to]
            .stack
            .socket(recv_handle)
            .listen(fc.port)
            .map_err(|e| {
                ConfigError::at(format!("flow[{i}].port"), format!("cannot listen: {e}"))
            })?;
        let dst = IpAddress::Ipv4(sc.hosts[to].address);
        hosts[from]
            .stack
            .connect(send_handle, (dst, fc.port), client_port)
            .map_err(|e| {
                ConfigError::at(format!("flow[{i}].to"), format!("cannot connect: {e}"))
            })?;
        let seed = rng.next_u64();
        // One block of random data for the run, made from the first flow's
        // seed; each flow cuts its stream from it at offsets its own seed
        // picks.
        let block = block.get_or_insert_with(|| DataSource::block(seed));
        let data = DataSource::for_flow(fc, block.clone(), seed);
        let send_sock = hosts[from].sockets.len();
        hosts[from]
            .lookup
            .insert(client_port, fc.port, send_sock, false);
        hosts[from].sockets.push(Socket {
            flow: i as u16,
            handle: send_handle,
            local_port: client_port,
            remote_port: fc.port,
            retired: false,
            end: End::Send(Box::new(Sender::new(fc, data))),
        });
        let recv_sock = hosts[to].sockets.len();
        let remote_port = if kernel == Some(from) {
            ANY_PORT // a real kernel connects from a port of its choosing
        } else {
            client_port
        };
        hosts[to]
            .lookup
            .insert(fc.port, remote_port, recv_sock, true);
        hosts[to].sockets.push(Socket {
            flow: i as u16,
            handle: recv_handle,
            local_port: fc.port,
            remote_port,
            retired: false,
            end: End::Recv(Box::new(Receiver::new(fc))),
        });
        flows.push(Flow {
            from,
            to,
            port: fc.port,
            send_sock,
            recv_sock,
            track: Track::default(),
        });
    }
    Ok(flows)
}
