//! Typed scenario configuration, and the scenario file's keys.
//!
//! Owns the plain data a run is built from: the link, the hosts (NIC,
//! socket and CPU settings), the switch that joins three or more of them,
//! and the flows. Owns the file format's schema too: each type derives
//! `serde::Deserialize`, and each key is declared once, on its field, with
//! its name, type, default and bounds (through [`crate::units`]) beside its
//! doc comment. Where the file's shape differs from the model's (the
//! `[scenario]` table, hosts keyed by name, `[[flow]]`), a private
//! intermediate type declares those keys instead. [`Scenario::validate`]
//! holds every rule across keys, so a scenario built in code is checked
//! exactly like one read from a file, and names the key it refuses.
//!
//! Does not read text, know positions or word "expected X, found Y": the
//! `simnet` tool's scenario reader deserializes a spanned TOML document
//! into these types and turns refusals into `FILE:LINE:COLUMN` errors.

pub use crate::app::recv::RecvPath;
pub use crate::app::send::SendPath;
use crate::cost::CostModel;
use crate::engine::Nanos;
use crate::units::{
    checked_string, probability, whole, Buffers, Count, Descriptors, Frames, Ports, Rate, Seeds,
    Size, Time, DAY, GIB, KIB, MIB, MS, SEC, TIB, US,
};
use core::fmt;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Descriptors per ring when a scenario says nothing. e1000 and e1000e
/// default to 256 (`ethtool -g`).
pub const DEFAULT_RING: u16 = 256;
/// Smallest ring the model accepts. e1000 refuses fewer than 80 descriptors
/// (`E1000_MIN_TXD`); the model allows smaller rings for teaching, but the
/// driver keeps [`crate::nic::ring::MAX_DESC_PER_FRAME`] free for one frame.
pub const MIN_RING: u16 = 32;
/// Largest ring the model accepts: ixgbe's `IXGBE_MAX_TXD`.
pub const MAX_RING: u16 = 4096;
/// Interrupt moderation delay: e1000e `RxAbsIntDelay` default of 8 units of
/// 1.024 us.
pub const DEFAULT_IRQ_COALESCE: Nanos = 8 * 1024;
/// Frames per NAPI poll: `NAPI_POLL_WEIGHT` in `include/linux/netdevice.h`.
pub const DEFAULT_NAPI_BUDGET: u32 = 64;
/// Rx frames up to this many bytes are copied into a fresh sk_buff:
/// e1000e `copybreak` module parameter default.
pub const DEFAULT_COPYBREAK: u32 = 256;
/// Default socket buffers. Linux's `tcp_wmem`/`tcp_rmem` maxima are 4 MiB
/// and 6 MiB; 4 MiB each keeps the lesson simple.
pub const DEFAULT_SOCKBUF: u32 = 4 << 20;
/// IPv4 minimum MTU every host must accept (RFC 791: 576).
pub const MIN_MTU: u32 = 576;
/// Largest IP MTU the model accepts (jumbo frames).
pub const MAX_MTU: u32 = 9000;
/// Zero-copy send buffers a flow owns when the scenario says nothing.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// POSIX `IOV_MAX` on Linux.
pub const IOV_MAX: u32 = 1024;
/// Fewest hosts a scenario has: one flow needs two ends.
pub const MIN_HOSTS: usize = 2;
/// Most hosts a scenario may have: enough for incast and many clients on a
/// server, few enough that a capture folder stays browsable.
pub const MAX_HOSTS: usize = 64;
/// Most flows a scenario may have: flow `i` connects from ephemeral port
/// 49152 + `i`, and the IANA dynamic range (RFC 6335) ends at 65535.
pub const MAX_FLOWS: usize = 16384;
/// Most memory a scenario may need (by [`Scenario::memory_estimate`]):
/// what a laptop can give one run. A scenario asking more is refused
/// before it starts, with the estimate, rather than killed by the
/// out-of-memory killer part way.
pub const MAX_MEMORY: u64 = 16 << 30;
/// The smallest socket buffer simnet makes: one page (`sndbuf` and
/// `rcvbuf` cannot be smaller either).
pub const SOCKET_BUFFER_MIN: u64 = 4096;
/// Memory one flow takes beyond its socket buffers (both sockets'
/// smoltcp state, the model's records, a few latency samples), measured:
/// 10,000 one-byte flows peak at 221 MB, 22 KB a flow with their 4 KiB
/// buffers.
pub const FLOW_OVERHEAD: u64 = 8 << 10;

/// The size of a socket buffer of configured size `cfg` for a flow that
/// carries `carries` bytes each way: smoltcp allocates a buffer whole, up
/// front (Linux charges `sk_sndbuf`/`sk_rcvbuf` only as data is queued), so
/// simnet makes it no larger than the flow can fill, rounded up to a page.
pub fn socket_buffer(cfg: u32, carries: u64) -> u64 {
    let need = carries
        .next_multiple_of(SOCKET_BUFFER_MIN)
        .max(SOCKET_BUFFER_MIN);
    (cfg as u64).min(need)
}
/// Egress buffer per switch port when a scenario says nothing: 512 KiB, of
/// the order of the share of a shallow-buffered top-of-rack switch's shared
/// packet memory (a few MiB for 32-64 ports) that one congested port gets.
pub const DEFAULT_SWITCH_BUFFER: u64 = 512 << 10;
/// Switch forwarding latency when a scenario says nothing: 1 us, the order
/// of a store-and-forward top-of-rack switch's port-to-port latency on top
/// of receiving the whole frame.
pub const DEFAULT_SWITCH_LATENCY: Nanos = 1_000;

/// One whole scenario: what `simnet run` executes.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ScenarioFile")]
pub struct Scenario {
    /// `[scenario]` `name`; see `ScenarioTable` for this and the next three.
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// Virtual-time cap; reaching it ends the run with outcome `time_limit`.
    pub time_limit: Nanos,
    /// Every link: the direct wire between two hosts, or each host's link
    /// to the switch (both directions alike).
    pub link: LinkConfig,
    /// [`MIN_HOSTS`]..=[`MAX_HOSTS`] hosts, in the order the file names them.
    pub hosts: Vec<HostConfig>,
    /// The switch every host is linked to; required for three or more
    /// hosts. Without it the two hosts share one direct wire.
    pub switch: Option<SwitchConfig>,
    pub flows: Vec<FlowConfig>,
    /// Real traffic: one host's port bridged to a TAP device, the Linux
    /// kernel playing the other host.
    pub tap: Option<TapConfig>,
}

/// The file's top level; `Scenario` is read through it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenario: ScenarioTable,
    #[serde(default)]
    link: LinkConfig,
    /// Required in effect: [`Scenario::validate`] counts them.
    #[serde(default)]
    hosts: Hosts,
    switch: Option<SwitchConfig>,
    /// Required in effect: [`Scenario::validate`] wants at least one.
    #[serde(default, rename = "flow")]
    flows: Flows,
    tap: Option<TapConfig>,
}

/// `[scenario]` (required).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioTable {
    /// Required; also the default capture folder's name.
    #[serde(deserialize_with = "folder_name")]
    name: String,
    /// One paragraph: what this lesson shows.
    #[serde(default)]
    description: String,
    /// Same seed, byte-identical outputs.
    #[serde(
        default = "whole::<_, 1>",
        deserialize_with = "Count::<Seeds, 0, { i64::MAX as u64 }>::de"
    )]
    seed: u64,
    /// Virtual time; up to one day.
    #[serde(
        default = "whole::<_, { 10 * SEC }>",
        deserialize_with = "Time::<US, DAY>::de"
    )]
    time_limit: Nanos,
}

impl From<ScenarioFile> for Scenario {
    fn from(f: ScenarioFile) -> Scenario {
        let ScenarioTable {
            name,
            description,
            seed,
            time_limit,
        } = f.scenario;
        Scenario {
            name,
            description,
            seed,
            time_limit,
            link: f.link,
            hosts: f.hosts.0,
            switch: f.switch,
            flows: f.flows.0,
            tap: f.tap,
        }
    }
}

/// The scenario's name is also the default capture folder's name: at most
/// NAME_MAX (255) bytes, as file systems count.
fn folder_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_string(
        d,
        "a string",
        "a name usable as a folder name (1 to 255 bytes of UTF-8, no \"/\", \"\\\" or control characters)",
        |name| {
            !(name.is_empty()
                || name == "."
                || name == ".."
                || name.len() > 255
                || name.chars().any(|c| c == '/' || c == '\\' || c.is_control()))
        },
    )
}

/// `[tap]`: which host keeps its NIC, and the device its port is bridged
/// to. The other host is absent; the kernel answers at its address. Only a
/// two-host scenario without a switch can have one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapConfig {
    /// Name of the simulated host (required).
    #[serde(deserialize_with = "host_name")]
    pub host: String,
    /// Interface name of the TAP device simnet creates; default `simnet0`.
    #[serde(default = "simnet0", deserialize_with = "interface_name")]
    pub device: String,
}

fn simnet0() -> String {
    "simnet0".into()
}

/// A name the kernel's `dev_valid_name()` accepts: at most IFNAMSIZ - 1
/// bytes, no '/', ':' or whitespace, not "." or "..".
fn interface_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_string(
        d,
        "an interface name",
        "an interface name (1 to 15 of A-Z a-z 0-9 - _ .)",
        |name| {
            !name.is_empty()
                && name.len() <= 15
                && name != "."
                && name != ".."
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        },
    )
}

/// A host named by a flow or `[tap]`; [`Scenario::validate`] checks it
/// exists.
fn host_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_string(d, "a host name", "a host name", |_| true)
}

/// `[switch]`: one store-and-forward switch every host is linked to. It
/// forwards by the scenario's addresses (a static table, nothing learnt)
/// and has a drop-tail FIFO per egress port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwitchConfig {
    /// Bytes each egress port may hold waiting for its link: 1KiB..=1GiB,
    /// default [`DEFAULT_SWITCH_BUFFER`].
    #[serde(deserialize_with = "Size::<KIB, GIB>::de")]
    pub buffer: u64,
    /// From a frame's last bit in to its place in the egress queue:
    /// 0..=1ms, default [`DEFAULT_SWITCH_LATENCY`].
    #[serde(deserialize_with = "Time::<0, MS>::de")]
    pub latency: Nanos,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            buffer: DEFAULT_SWITCH_BUFFER,
            latency: DEFAULT_SWITCH_LATENCY,
        }
    }
}

/// A wire: between the two hosts, or between a host and the switch (both
/// directions alike). `[link]`; every key optional, defaults in
/// [`LinkConfig::default`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// `rate`: bits per second, 1kbit/s..=1Tbit/s; default 10Gbit/s.
    #[serde(
        rename = "rate",
        deserialize_with = "Rate::<1_000, 1_000_000_000_000>::de"
    )]
    pub rate_bps: u64,
    /// One-way propagation delay: 0..=10s; default 10us.
    #[serde(deserialize_with = "Time::<0, { 10 * SEC }>::de")]
    pub delay: Nanos,
    /// IP MTU; an Ethernet frame is `mtu + 14` bytes (FCS not counted).
    /// [`MIN_MTU`]..=[`MAX_MTU`]; default 1500.
    #[serde(deserialize_with = "Size::<{ MIN_MTU as u64 }, { MAX_MTU as u64 }>::de")]
    pub mtu: u32,
    /// Drop-tail queue in front of the wire, in bytes, 1KiB..=1GiB; `None`
    /// (the default) = unbounded.
    #[serde(deserialize_with = "Size::<KIB, GIB>::some")]
    pub queue: Option<u64>,
    /// `[link.faults]`.
    pub faults: Faults,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            rate_bps: 10_000_000_000,
            delay: 10 * US,
            mtu: 1500,
            queue: None,
            faults: Faults::default(),
        }
    }
}

/// Per-frame fault probabilities, drawn from the scenario's RNG.
/// `[link.faults]`; every key optional, defaults in [`Faults::default`]:
/// no faults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Frame dropped.
    #[serde(deserialize_with = "probability")]
    pub loss: f64,
    /// Frame delivered twice.
    #[serde(deserialize_with = "probability")]
    pub duplicate: f64,
    /// Frame held back by `reorder_delay`.
    #[serde(deserialize_with = "probability")]
    pub reorder: f64,
    /// 0..=10s; default 50us.
    #[serde(deserialize_with = "Time::<0, { 10 * SEC }>::de")]
    pub reorder_delay: Nanos,
    /// One flipped bit; must be caught by checksums.
    #[serde(deserialize_with = "probability")]
    pub corrupt: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: 50 * US,
            corrupt: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub name: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub nic: NicConfig,
    pub socket: SocketConfig,
    pub cpu: CostModel,
}

/// `[hosts.NAME]`: one host's table; its name is the table's key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostTable {
    /// Required: `"192.168.69.1/24"`.
    address: HostAddress,
    #[serde(default)]
    nic: NicConfig,
    #[serde(default)]
    socket: SocketConfig,
    /// Cost-model overrides.
    #[serde(default)]
    cpu: CostModel,
}

/// The `[hosts.NAME]` tables, in file order.
#[derive(Default)]
struct Hosts(Vec<HostConfig>);

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hosts, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Hosts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of hosts like [hosts.sender]")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hosts, A::Error> {
                let mut hosts = Vec::new();
                while let Some(HostName(name)) = map.next_key()? {
                    let t: HostTable = map.next_value()?;
                    hosts.push(HostConfig {
                        name,
                        address: t.address.0,
                        prefix_len: t.address.1,
                        nic: t.nic,
                        socket: t.socket,
                        cpu: t.cpu,
                    });
                }
                Ok(Hosts(hosts))
            }
        }
        d.deserialize_map(V)
    }
}

/// A host's name: it becomes part of file names.
struct HostName(String);

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HostName, D::Error> {
        let name = String::deserialize(d)?;
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(de::Error::custom(format_args!(
                "a host name must be 1 to 64 letters, digits, \"_\" or \"-\" (it becomes part of file names), found {:?}",
                crate::units::truncate(&name)
            )));
        }
        Ok(HostName(name))
    }
}

/// `"192.168.69.1/24"`: an address a host can have, and its prefix length.
struct HostAddress(Ipv4Addr, u8);

const ADDRESS: &str = "an IPv4 address with a prefix length like \"192.168.69.1/24\"";

impl<'de> Deserialize<'de> for HostAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<HostAddress, D::Error> {
        let s = checked_string(d, ADDRESS, ADDRESS, |_| true)?;
        host_address(&s).map_err(|m| m.into_error())
    }
}

fn host_address(s: &str) -> Result<HostAddress, crate::units::Refusal> {
    use crate::units::{truncate, Refusal};
    let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
    if addr.contains(':') {
        return Err(Refusal::Message(format!(
            "IPv6 addresses are not supported yet (this version supports IPv4, like \"192.168.69.1/24\"), found {:?}",
            truncate(s)
        )));
    }
    let Ok(address) = addr.parse::<Ipv4Addr>() else {
        return Err(Refusal::expected(ADDRESS, ""));
    };
    if prefix.is_empty() {
        return Err(Refusal::expected(
            ADDRESS,
            " (the prefix length is missing)",
        ));
    }
    let prefix_len = match prefix.parse::<u8>() {
        Ok(p) if (1..=32).contains(&p) && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            return Err(Refusal::expected(
                "a prefix length in 1..=32 after \"/\"",
                "",
            ))
        }
    };
    let host_bits = u32::from(address) & !mask(prefix_len);
    let what = if address.is_unspecified() {
        "the unspecified address"
    } else if address.is_loopback() {
        "a loopback address"
    } else if address.is_multicast() {
        "a multicast address"
    } else if address.is_broadcast() {
        "the broadcast address"
    } else if prefix_len <= 30 && host_bits == 0 {
        "the subnet's network address"
    } else if prefix_len <= 30 && host_bits == !mask(prefix_len) {
        "the subnet's broadcast address"
    } else {
        return Ok(HostAddress(address, prefix_len));
    };
    Err(Refusal::Message(format!(
        "{:?} is {what}, not one a host can have",
        truncate(s)
    )))
}

/// The network mask of a prefix length.
fn mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0)
}

/// NIC offloads a scenario can switch on: `offload`, a list of names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offloads {
    pub tx_checksum: bool,
    pub rx_checksum: bool,
    pub tso: bool,
    pub gso: bool,
    pub gro: bool,
}

/// One name in an `offload` list.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Offload {
    TxChecksum,
    RxChecksum,
    Tso,
    Gso,
    Gro,
}

impl<'de> Deserialize<'de> for Offloads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Offloads, D::Error> {
        /// One item, refused at its place when it repeats one before it.
        struct Unique<'a>(&'a mut Vec<Offload>);
        impl<'de> de::DeserializeSeed<'de> for Unique<'_> {
            type Value = Offload;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Offload, D::Error> {
                let o = Offload::deserialize(d)?;
                if self.0.contains(&o) {
                    let name = match o {
                        Offload::TxChecksum => "tx-checksum",
                        Offload::RxChecksum => "rx-checksum",
                        Offload::Tso => "tso",
                        Offload::Gso => "gso",
                        Offload::Gro => "gro",
                    };
                    return Err(de::Error::custom(format_args!("{name:?} is listed twice")));
                }
                self.0.push(o);
                Ok(o)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Offloads;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of offloads like [\"tx-checksum\", \"tso\"]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Offloads, A::Error> {
                let mut seen = Vec::new();
                while seq.next_element_seed(Unique(&mut seen))?.is_some() {}
                Ok(Offloads {
                    tx_checksum: seen.contains(&Offload::TxChecksum),
                    rx_checksum: seen.contains(&Offload::RxChecksum),
                    tso: seen.contains(&Offload::Tso),
                    gso: seen.contains(&Offload::Gso),
                    gro: seen.contains(&Offload::Gro),
                })
            }
        }
        d.deserialize_seq(V)
    }
}

/// `[hosts.NAME.nic]`; every key optional, defaults in
/// [`NicConfig::default`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NicConfig {
    /// Descriptors: [`MIN_RING`]..=[`MAX_RING`], default [`DEFAULT_RING`].
    #[serde(
        deserialize_with = "Count::<Descriptors, { MIN_RING as u64 }, { MAX_RING as u64 }>::de"
    )]
    pub tx_ring: u16,
    /// As `tx_ring`.
    #[serde(
        deserialize_with = "Count::<Descriptors, { MIN_RING as u64 }, { MAX_RING as u64 }>::de"
    )]
    pub rx_ring: u16,
    /// `offload`: none by default.
    #[serde(rename = "offload")]
    pub offloads: Offloads,
    /// Interrupt moderation delay; 0 = one interrupt per completion.
    /// 0..=1ms, default [`DEFAULT_IRQ_COALESCE`].
    #[serde(deserialize_with = "Time::<0, MS>::de")]
    pub irq_coalesce: Nanos,
    /// Frames per NAPI poll: 1..=4096, default [`DEFAULT_NAPI_BUDGET`].
    #[serde(deserialize_with = "Count::<Frames, 1, 4096>::de")]
    pub napi_budget: u32,
    /// Rx frames up to this size are copied into a new sk_buff:
    /// 0..=[`MAX_MTU`] bytes, default [`DEFAULT_COPYBREAK`].
    #[serde(deserialize_with = "Size::<0, { MAX_MTU as u64 }>::de")]
    pub copybreak: u32,
    /// The NIC writes headers and payload to separate buffers; default off.
    pub header_split: bool,
}

impl Default for NicConfig {
    fn default() -> Self {
        NicConfig {
            tx_ring: DEFAULT_RING,
            rx_ring: DEFAULT_RING,
            offloads: Offloads::default(),
            irq_coalesce: DEFAULT_IRQ_COALESCE,
            napi_budget: DEFAULT_NAPI_BUDGET,
            copybreak: DEFAULT_COPYBREAK,
            header_split: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Congestion {
    #[default]
    Cubic,
    Reno,
    None,
}

/// `[hosts.NAME.socket]`; every key optional, defaults in
/// [`SocketConfig::default`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketConfig {
    /// 4KiB..=1GiB, default [`DEFAULT_SOCKBUF`].
    #[serde(deserialize_with = "Size::<{ 4 * KIB }, GIB>::de")]
    pub sndbuf: u32,
    /// 4KiB..=1GiB, default [`DEFAULT_SOCKBUF`].
    #[serde(deserialize_with = "Size::<{ 4 * KIB }, GIB>::de")]
    pub rcvbuf: u32,
    /// Default off.
    pub nagle: bool,
    /// Default cubic.
    pub congestion: Congestion,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            sndbuf: DEFAULT_SOCKBUF,
            rcvbuf: DEFAULT_SOCKBUF,
            nagle: false,
            congestion: Congestion::Cubic,
        }
    }
}

/// When the application writes into a send buffer again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reuse {
    /// Only once the kernel has handed it back (the correct program).
    AfterCompletion,
    /// As soon as the send call returns, even if the kernel still holds it
    /// (the lifetime bug: the wire then carries the new bytes).
    Immediately,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferKind {
    /// A fixed array (stack-like storage).
    Array,
    /// A heap `Vec<u8>`.
    Vec,
    /// A `String`: bytes that must be valid UTF-8.
    String,
    /// Reference-counted bytes: slices share one allocation.
    Bytes,
    /// A growable string the receiver reads messages into.
    DynamicString,
    /// A growable vector the receiver reads messages into.
    DynamicVector,
    /// An asio-style streambuf: prepare / commit / consume.
    Streambuf,
}

impl BufferKind {
    pub fn name(self) -> &'static str {
        match self {
            BufferKind::Array => "array",
            BufferKind::Vec => "vec",
            BufferKind::String => "string",
            BufferKind::Bytes => "bytes",
            BufferKind::DynamicString => "dynamic_string",
            BufferKind::DynamicVector => "dynamic_vector",
            BufferKind::Streambuf => "streambuf",
        }
    }

    /// Whether the receiver reads messages into a growing buffer
    /// (`read_until` a delimiter).
    pub fn dynamic(self) -> bool {
        matches!(
            self,
            BufferKind::DynamicString | BufferKind::DynamicVector | BufferKind::Streambuf
        )
    }
}

/// How the application frames messages in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FramingKind {
    /// Every message (one send call) ends with `delimiter`.
    Delimited,
    /// Every message is an 8-character hexadecimal body length, then the
    /// body (`write_size` bytes): a gather write of header and body, and a
    /// composed read of header, then body.
    LengthPrefixed,
    /// Every message is a `header`, the body (`write_size` bytes) and a
    /// `trailer`: a gather write of three regions whose header and trailer
    /// are built in temporary buffers, and a composed read of the three.
    HeaderBodyTrailer,
}

/// Bytes of a `length_prefixed` header: the body length in hex.
pub const LENGTH_PREFIX: u32 = 8;

/// `[flow.framing]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramingConfig {
    /// Required.
    pub kind: FramingKind,
    /// One byte; default `"\n"`.
    #[serde(default = "newline", deserialize_with = "one_byte")]
    pub delimiter: u8,
    /// `header_body_trailer`'s header: 1B..=1MiB, default 16.
    #[serde(default = "whole::<_, 16>", deserialize_with = "Size::<1, MIB>::de")]
    pub header: u32,
    /// `header_body_trailer`'s trailer: 1B..=1MiB, default 4.
    #[serde(default = "whole::<_, 4>", deserialize_with = "Size::<1, MIB>::de")]
    pub trailer: u32,
}

fn newline() -> u8 {
    b'\n'
}

fn one_byte<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    const WHAT: &str = "a one-byte delimiter like \"\\n\"";
    let s = checked_string(d, WHAT, WHAT, |s| s.len() == 1)?;
    Ok(s.as_bytes().first().copied().unwrap_or(b'\n'))
}

impl FramingConfig {
    /// The parts of one message with a body of `body` bytes, in order.
    pub fn parts(&self, body: u64) -> Vec<u64> {
        match self.kind {
            FramingKind::Delimited => vec![body],
            FramingKind::LengthPrefixed => vec![LENGTH_PREFIX as u64, body],
            FramingKind::HeaderBodyTrailer => {
                vec![self.header as u64, body, self.trailer as u64]
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// Page-aligned (4 KiB): a buffer of n pages spans n pages.
    Page,
    /// 64-byte aligned: the buffer starts inside a page, so it spans one
    /// more page than its length needs.
    Cacheline,
    /// No alignment promise (8 bytes, as malloc gives at least).
    None,
}

impl Align {
    /// Offset of the buffer's first byte within its first page.
    pub fn page_offset(self) -> u64 {
        match self {
            Align::Page => 0,
            Align::Cacheline => 64,
            Align::None => 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// No pool: a buffer allocated per call, freed when done with.
    None,
    /// `pool_size` buffers allocated up front; wait when all are in use.
    Fixed,
    /// Allocate on demand, keep every buffer for reuse.
    Dynamic,
    /// A per-thread cache of up to `pool_size` free buffers.
    ThreadLocal,
    /// Allocate on demand up to `pool_size`, then wait for one to return.
    Recycling,
}

impl PoolKind {
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::None => "none",
            PoolKind::Fixed => "fixed",
            PoolKind::Dynamic => "dynamic",
            PoolKind::ThreadLocal => "thread_local",
            PoolKind::Recycling => "recycling",
        }
    }
}

/// `[flow.buffer]`: the application's buffers; every key optional,
/// defaults in [`BufferConfig::default`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BufferConfig {
    pub kind: BufferKind,
    pub align: Align,
    pub pool: PoolKind,
    /// 1..=65536 buffers, default [`DEFAULT_POOL_SIZE`].
    #[serde(deserialize_with = "Count::<Buffers, 1, 65536>::de")]
    pub pool_size: u32,
    pub reuse: Reuse,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            kind: BufferKind::Vec,
            align: Align::Page,
            pool: PoolKind::Fixed,
            pool_size: DEFAULT_POOL_SIZE,
            reuse: Reuse::AfterCompletion,
        }
    }
}

/// One TCP connection and its workload: a `[[flow]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Name of the sending host (required).
    #[serde(deserialize_with = "host_name")]
    pub from: String,
    /// Name of the receiving host (required).
    #[serde(deserialize_with = "host_name")]
    pub to: String,
    /// 1..=65535; default 5001 + the flow's index, which `Flows` fills in
    /// where the file leaves 0 (it cannot write 0).
    #[serde(default, deserialize_with = "Count::<Ports, 1, 65535>::de")]
    pub port: u16,
    /// Payload to move (required): 1B..=1TiB.
    #[serde(deserialize_with = "Size::<1, TIB>::de")]
    pub bytes: u64,
    /// Bytes per send call: 1B..=1GiB, default 64KiB.
    #[serde(
        default = "whole::<_, { 64 * KIB }>",
        deserialize_with = "Size::<1, GIB>::de"
    )]
    pub write_size: u32,
    /// Bytes per receive call: 1B..=1GiB, default 64KiB.
    #[serde(
        default = "whole::<_, { 64 * KIB }>",
        deserialize_with = "Size::<1, GIB>::de"
    )]
    pub read_size: u32,
    #[serde(default)]
    pub send: SendPath,
    #[serde(default)]
    pub recv: RecvPath,
    /// Regions per call for `writev`/`readv`: 1..=[`IOV_MAX`], default 1.
    #[serde(
        default = "whole::<_, 1>",
        deserialize_with = "Count::<Buffers, 1, { IOV_MAX as u64 }>::de"
    )]
    pub iovecs: u32,
    #[serde(default)]
    pub buffer: BufferConfig,
    /// Message framing, if the application frames its stream.
    pub framing: Option<FramingConfig>,
    /// The receiving application writes back everything it reads, and the
    /// sending one reads it back and checks it (an echo server and client).
    #[serde(default)]
    pub echo: bool,
}

/// First default port: flow `i` defaults to `DEFAULT_PORT + i`.
const DEFAULT_PORT: usize = 5001;

/// The `[[flow]]` array, with default ports filled in.
#[derive(Default)]
struct Flows(Vec<FlowConfig>);

impl<'de> Deserialize<'de> for Flows {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flows, D::Error> {
        /// Flow `i`, with its default port.
        struct At(usize);
        impl<'de> de::DeserializeSeed<'de> for At {
            type Value = FlowConfig;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FlowConfig, D::Error> {
                let mut flow = FlowConfig::deserialize(d)?;
                if flow.port == 0 {
                    flow.port = u16::try_from(DEFAULT_PORT + self.0).map_err(|_| {
                        de::Error::custom(
                            "too many flows for default ports (5001 + index); give `port`",
                        )
                    })?;
                }
                Ok(flow)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of tables [[flow]]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flows, A::Error> {
                let mut flows = Vec::new();
                while let Some(flow) = seq.next_element_seed(At(flows.len()))? {
                    flows.push(flow);
                }
                Ok(Flows(flows))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Flows, A::Error> {
                Err(de::Error::custom(
                    "expected an array of tables: write each flow as [[flow]], not [flow]",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scenario the model cannot run: the dotted key path of the setting at
/// fault, as a scenario file spells it (`flow[0].send`,
/// `hosts.sender.nic.offload`), when there is one, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// An error about the setting at `key`.
    pub fn at(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// An error about the scenario as a whole.
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Scenario {
    /// Two hosts, `sender` (192.168.69.1) and `receiver` (192.168.69.2), on a
    /// 10 Gbit/s, 10 us link with every other setting at its default, and
    /// one flow of `bytes` in `write_size` calls on `send`. A starting point
    /// for scenarios built in code.
    pub fn two_hosts(bytes: u64, write_size: u32, send: SendPath) -> Scenario {
        let host = |name: &str, last: u8| HostConfig {
            name: name.into(),
            address: Ipv4Addr::new(192, 168, 69, last),
            prefix_len: 24,
            nic: NicConfig::default(),
            socket: SocketConfig::default(),
            cpu: CostModel::default(),
        };
        Scenario {
            name: "two_hosts".into(),
            description: String::new(),
            seed: 1,
            time_limit: 10_000_000_000,
            link: LinkConfig {
                rate_bps: 10_000_000_000,
                delay: 10_000,
                mtu: 1500,
                queue: None,
                faults: Faults::default(),
            },
            hosts: vec![host("sender", 1), host("receiver", 2)],
            switch: None,
            flows: vec![FlowConfig {
                from: "sender".into(),
                to: "receiver".into(),
                port: 5001,
                bytes,
                write_size,
                read_size: 65536,
                send,
                recv: RecvPath::Read,
                iovecs: 1,
                buffer: BufferConfig::default(),
                framing: None,
                echo: false,
            }],
            tap: None,
        }
    }

    /// Index into [`Scenario::hosts`] of the host named `name`.
    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// With `[tap]`: the indices of the simulated host and of the absent
    /// one the kernel plays (a tap scenario has exactly two hosts).
    pub fn tap_hosts(&self) -> Option<(usize, usize)> {
        let t = self.tap.as_ref()?;
        let h = self.host_index(&t.host)?;
        Some((h, 1 - h.min(1)))
    }

    /// Checks the bounds the model relies on and the rules across keys;
    /// every error names the key it refuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_topology()?;
        if !(MIN_MTU..=MAX_MTU).contains(&self.link.mtu) {
            return Err(ConfigError::at(
                "link.mtu",
                format!("{} is outside {MIN_MTU}..={MAX_MTU}", self.link.mtu),
            ));
        }
        if self.link.rate_bps == 0 {
            return Err(ConfigError::at("link.rate", "must be above zero"));
        }
        for h in &self.hosts {
            h.validate()?;
        }
        if self.flows.is_empty() {
            return Err(ConfigError::at(
                "flow",
                "a scenario needs at least one [[flow]]",
            ));
        }
        if self.flows.len() > MAX_FLOWS {
            return Err(ConfigError::at(
                format!("flow[{MAX_FLOWS}]"),
                format!(
                    "a scenario has at most {MAX_FLOWS} flows (one ephemeral port each, \
                     49152..=65535), found {}",
                    self.flows.len()
                ),
            ));
        }
        let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
        for (i, f) in self.flows.iter().enumerate() {
            self.validate_flow(i, f)?;
            if let Some(first) = ports.insert(f.port, i) {
                return Err(ConfigError::at(
                    format!("flow[{i}].port"),
                    format!("port {} is already used by flow[{first}]", f.port),
                ));
            }
        }
        let need = self.memory_estimate();
        if need > MAX_MEMORY {
            return Err(ConfigError::at(
                "flow",
                format!(
                    "this scenario would need about {} GiB of memory ({} flows: socket \
                     buffers as large as sndbuf and rcvbuf or the flow's bytes, whichever is \
                     smaller, and application buffers that must keep their bytes); simnet \
                     runs at most {} GiB. Fewer or smaller flows, or smaller sndbuf/rcvbuf, \
                     fit",
                    need.div_ceil(1 << 30),
                    self.flows.len(),
                    MAX_MEMORY >> 30
                ),
            ));
        }
        Ok(())
    }

    /// Roughly the most memory a run of this scenario holds at once: the
    /// flows' socket buffers (sized as [`socket_buffer`] makes them), the
    /// application buffers that keep their bytes (a zero-copy sender that
    /// may rewrite them), the Rx rings' buffers and a per-flow overhead. It
    /// grows with what can be in flight, not with the bytes moved.
    pub fn memory_estimate(&self) -> u64 {
        let mut total: u64 = 1 << 20; // the run's block of application data
        for h in &self.hosts {
            total += (h.nic.rx_ring as u64 + h.nic.tx_ring as u64) * 2048;
        }
        for f in &self.flows {
            let mut flow = FLOW_OVERHEAD;
            for end in [&f.from, &f.to] {
                let Some(h) = self.host_index(end).map(|i| &self.hosts[i]) else {
                    continue;
                };
                flow += socket_buffer(h.socket.sndbuf, f.bytes);
                flow += socket_buffer(h.socket.rcvbuf, f.bytes);
            }
            if f.send.zero_copy() && f.buffer.reuse == Reuse::Immediately {
                let sndbuf = self
                    .host_index(&f.from)
                    .map_or(DEFAULT_SOCKBUF, |i| self.hosts[i].socket.sndbuf);
                let held = match f.buffer.pool {
                    PoolKind::Fixed | PoolKind::Recycling => f.buffer.pool_size as u64,
                    // As many as can be in flight: a send buffer's worth.
                    _ => sndbuf as u64 / f.write_size.max(1) as u64 + 1,
                };
                flow += held.saturating_mul(f.write_size as u64).min(f.bytes);
            }
            total = total.saturating_add(flow);
        }
        total
    }

    /// `no host named "x"; the hosts are "a", "b" and "c"`.
    fn no_host_named(&self, name: &str) -> String {
        let names: Vec<String> = self.hosts.iter().map(|h| format!("{:?}", h.name)).collect();
        let list = match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => "none".into(),
        };
        format!(
            "no host named {:?}; the hosts are {list}",
            crate::units::truncate(name)
        )
    }

    /// Host count, distinct names and addresses on one subnet, the switch,
    /// `[tap]`.
    fn validate_topology(&self) -> Result<(), ConfigError> {
        let n = self.hosts.len();
        if !(MIN_HOSTS..=MAX_HOSTS).contains(&n) {
            // Past the limit, point at the first host too many.
            let key = match self.hosts.get(MAX_HOSTS) {
                Some(h) => format!("hosts.{}", h.name),
                None => "hosts".into(),
            };
            return Err(ConfigError::at(
                key,
                format!("a scenario has {MIN_HOSTS} to {MAX_HOSTS} hosts, found {n}"),
            ));
        }
        self.validate_addresses()?;
        if let (Some(third), None) = (self.hosts.get(2), &self.switch) {
            return Err(ConfigError::at(
                format!("hosts.{}", third.name),
                format!(
                    "{n} hosts need a [switch] to join them (a direct wire joins exactly two); \
                     add a [switch] table"
                ),
            ));
        }
        if let Some(sw) = &self.switch {
            if sw.buffer == 0 {
                return Err(ConfigError::at("switch.buffer", "must be above zero"));
            }
        }
        if let Some(t) = &self.tap {
            if self.host_index(&t.host).is_none() {
                return Err(ConfigError::at("tap.host", self.no_host_named(&t.host)));
            }
            if n != 2 || self.switch.is_some() {
                return Err(ConfigError::at(
                    "tap",
                    "a [tap] scenario has exactly two hosts and no [switch]: the kernel \
                     plays the other host at the end of a direct wire",
                ));
            }
        }
        Ok(())
    }

    /// Distinct names and addresses, all on the first host's subnet: there
    /// is no router.
    fn validate_addresses(&self) -> Result<(), ConfigError> {
        let Some(first) = self.hosts.first() else {
            return Ok(());
        };
        for (i, h) in self.hosts.iter().enumerate() {
            for other in &self.hosts[..i] {
                if other.name == h.name {
                    return Err(ConfigError::at(
                        format!("hosts.{}", h.name),
                        "two hosts have this name",
                    ));
                }
                if other.address == h.address {
                    return Err(ConfigError::at(
                        format!("hosts.{}.address", h.name),
                        format!(
                            "hosts {:?} and {:?} have the same address {}",
                            other.name, h.name, h.address
                        ),
                    ));
                }
            }
            let (ia, ib) = (u32::from(first.address), u32::from(h.address));
            let (ma, mb) = (mask(first.prefix_len), mask(h.prefix_len));
            if ia & ma != ib & ma || ia & mb != ib & mb {
                let why = match self.hosts.len() {
                    2 => "there is no router between the two hosts",
                    _ => "there is no router: the switch joins one subnet",
                };
                return Err(ConfigError::at(
                    format!("hosts.{}.address", h.name),
                    format!(
                        "{}/{} is not on the same subnet as host {:?} ({}/{}); {why}",
                        h.address, h.prefix_len, first.name, first.address, first.prefix_len
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The rules of one flow.
    fn validate_flow(&self, i: usize, f: &FlowConfig) -> Result<(), ConfigError> {
        let key = |k: &str| format!("flow[{i}].{k}");
        let err = |k: &str, m: String| Err(ConfigError::at(key(k), m));
        let Some(_) = self.host_index(&f.from) else {
            return err("from", self.no_host_named(&f.from));
        };
        let Some(to) = self.host_index(&f.to) else {
            return err("to", self.no_host_named(&f.to));
        };
        if f.from == f.to {
            return err(
                "to",
                format!(
                    "a flow goes between two hosts, but `from` and `to` both name {:?}",
                    f.to
                ),
            );
        }
        if f.bytes == 0 {
            return err("bytes", "must be above zero".into());
        }
        if f.write_size == 0 {
            return err("write_size", "must be above zero".into());
        }
        if f.read_size == 0 {
            return err("read_size", "must be above zero".into());
        }
        if f.port == 0 {
            return err("port", "port 0 is not a TCP port".into());
        }
        if f.iovecs == 0 || f.iovecs > IOV_MAX {
            return err("iovecs", format!("must be in 1..={IOV_MAX}"));
        }
        if f.buffer.pool_size == 0 {
            return err("buffer.pool_size", "must be above zero".into());
        }
        if f.recv == RecvPath::ZerocopyReceive && !self.hosts[to].nic.header_split {
            return err(
                "recv",
                format!(
                    "recv = \"zerocopy_receive\" needs hosts.{}.nic.header_split = true \
                     (TCP_ZEROCOPY_RECEIVE maps whole payload pages, which only header split \
                     leaves page-aligned)",
                    self.hosts[to].name
                ),
            );
        }
        if f.send == SendPath::IoUringFixed && f.buffer.pool != PoolKind::Fixed {
            return err(
                "buffer.pool",
                "send = \"io_uring_fixed\" registers its buffers once, so it needs \
                 buffer.pool = \"fixed\""
                    .into(),
            );
        }
        f.validate_framing(i)
    }
}

impl HostConfig {
    /// The bounds of one host's settings.
    fn validate(&self) -> Result<(), ConfigError> {
        let key = |k: &str| format!("hosts.{}.{k}", self.name);
        for (what, n) in [("tx_ring", self.nic.tx_ring), ("rx_ring", self.nic.rx_ring)] {
            if !(MIN_RING..=MAX_RING).contains(&n) {
                return Err(ConfigError::at(
                    key(&format!("nic.{what}")),
                    format!("{n} is outside {MIN_RING}..={MAX_RING}"),
                ));
            }
        }
        if self.nic.napi_budget == 0 {
            return Err(ConfigError::at(
                key("nic.napi_budget"),
                "must be above zero",
            ));
        }
        if self.nic.offloads.tso && !self.nic.offloads.tx_checksum {
            return Err(ConfigError::at(
                key("nic.offload"),
                "\"tso\" needs \"tx-checksum\" (Linux drops TSO from a device without \
                 checksum offload); add \"tx-checksum\", or use \"gso\" for segmentation in \
                 software",
            ));
        }
        for (what, n) in [
            ("sndbuf", self.socket.sndbuf),
            ("rcvbuf", self.socket.rcvbuf),
        ] {
            if n < 4096 {
                return Err(ConfigError::at(
                    key(&format!("socket.{what}")),
                    "must be at least 4KiB",
                ));
            }
        }
        Ok(())
    }
}

impl FlowConfig {
    /// Framing and the buffers that read framed messages.
    fn validate_framing(&self, i: usize) -> Result<(), ConfigError> {
        let key = |k: &str| format!("flow[{i}].{k}");
        let kind = self.buffer.kind;
        let Some(fr) = self.framing else {
            if kind.dynamic() {
                return Err(ConfigError::at(
                    key("buffer.kind"),
                    format!(
                        "buffer.kind = {:?} reads messages with read_until, so it needs \
                         [flow.framing] kind = \"delimited\"",
                        kind.name()
                    ),
                ));
            }
            return Ok(());
        };
        if fr.kind != FramingKind::Delimited
            && !matches!(self.send, SendPath::Write | SendPath::Writev)
        {
            return Err(ConfigError::at(
                key("framing.kind"),
                "framing with header parts is a gather write: it needs send = \"write\" or \
                 \"writev\"",
            ));
        }
        if fr.kind == FramingKind::HeaderBodyTrailer && (fr.header == 0 || fr.trailer == 0) {
            return Err(ConfigError::at(
                key("framing"),
                "header_body_trailer needs a header and a trailer of at least one byte",
            ));
        }
        if fr.kind != FramingKind::Delimited && kind.dynamic() {
            return Err(ConfigError::at(
                key("buffer.kind"),
                format!(
                    "buffer.kind = {:?} reads with read_until, which needs framing kind = \
                     \"delimited\"",
                    kind.name()
                ),
            ));
        }
        if fr.delimiter.is_ascii_alphanumeric() || fr.delimiter == b'-' || fr.delimiter == b'.' {
            return Err(ConfigError::at(
                key("framing.delimiter"),
                format!(
                    "{:?} also occurs in the data (letters, digits, '-' and '.'); pick another \
                     byte, e.g. \"\\n\"",
                    fr.delimiter as char
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sc: &Scenario) -> ConfigError {
        match sc.validate() {
            Err(e) => e,
            Ok(()) => panic!("validated: {sc:?}"),
        }
    }

    #[test]
    fn rules_across_keys_apply_to_scenarios_built_in_code() {
        let base = Scenario::two_hosts(1 << 20, 65536, SendPath::Write);
        assert_eq!(base.validate(), Ok(()));

        let mut sc = base.clone();
        sc.hosts[1].address = Ipv4Addr::new(192, 168, 70, 2);
        let e = refused(&sc);
        assert_eq!(e.key.as_deref(), Some("hosts.receiver.address"));
        assert!(e.message.contains("not on the same subnet"), "{e}");

        let mut sc = base.clone();
        sc.flows[0].to = "nobody".into();
        assert_eq!(
            refused(&sc),
            ConfigError::at(
                "flow[0].to",
                "no host named \"nobody\"; the hosts are \"sender\" and \"receiver\""
            )
        );

        let mut sc = base.clone();
        let mut third = sc.hosts[1].clone();
        third.name = "c".into();
        third.address = Ipv4Addr::new(192, 168, 69, 3);
        sc.hosts.push(third);
        assert_eq!(refused(&sc).key.as_deref(), Some("hosts.c"));
        sc.switch = Some(SwitchConfig::default());
        assert_eq!(sc.validate(), Ok(()));
    }
}
