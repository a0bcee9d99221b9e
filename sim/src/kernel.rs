//! The kernel's network device as smoltcp sees it, and frame dissection.
//!
//! Owns [`Port`], the `smoltcp::phy::Device` through which a host's stack
//! sends and receives: frames the stack transmits are queued for the driver
//! (`dev_queue_xmit` → `ndo_start_xmit`), frames NAPI has built into
//! sk_buffs wait here for the stack (`netif_receive_skb`). Owns
//! [`Dissected`], the header view the driver and the accounting need (TCP
//! ports, sequence number, payload span), parsed with `smoltcp::wire`.
//!
//! Does not own descriptors or time: the driver in [`crate::world`] turns
//! queued frames into Tx descriptors and charges the CPU for them. Frame
//! buffers are recycled through free lists; nothing here allocates per frame
//! once the lists are warm.

use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Packet, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket,
};
use std::collections::VecDeque;

use crate::config::Offloads;

/// The device a host's smoltcp interface polls.
pub struct Port<'a> {
    /// sk_buffs NAPI handed to the stack, oldest first.
    pub rx_in: &'a mut VecDeque<Vec<u8>>,
    /// Buffers the stack has consumed, to recycle.
    pub rx_done: &'a mut Vec<Vec<u8>>,
    /// Frames the stack transmitted, for the driver.
    pub tx_out: &'a mut Vec<Vec<u8>>,
    /// Recycled frame buffers.
    pub free: &'a mut Vec<Vec<u8>>,
    /// How many more frames the driver can take (Tx ring room).
    pub tx_room: usize,
    pub caps: &'a DeviceCapabilities,
}

/// Device capabilities for a host: Ethernet, the IP MTU, and the checksum
/// work the stack must do itself given the NIC's offloads.
pub fn capabilities(mtu: u32, offloads: Offloads) -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = mtu as usize + 14;
    let sw = |tx: bool, rx: bool| match (tx, rx) {
        (true, true) => Checksum::None,
        (true, false) => Checksum::Rx,
        (false, true) => Checksum::Tx,
        (false, false) => Checksum::Both,
    };
    let c = sw(offloads.tx_checksum, offloads.rx_checksum);
    let mut checksum = ChecksumCapabilities::default();
    checksum.ipv4 = c;
    checksum.tcp = c;
    checksum.udp = c;
    checksum.icmpv4 = c;
    caps.checksum = checksum;
    caps
}

pub struct RxToken<'a> {
    buf: Vec<u8>,
    done: &'a mut Vec<Vec<u8>>,
}

pub struct TxToken<'a> {
    out: &'a mut Vec<Vec<u8>>,
    free: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.buf);
        self.done.push(self.buf);
        r
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self.free.pop().unwrap_or_default();
        // Only bytes beyond the recycled buffer's length are zero-filled;
        // smoltcp writes every byte of the frame.
        if buf.len() >= len {
            buf.truncate(len);
        } else {
            buf.resize(len, 0);
        }
        let r = f(&mut buf);
        self.out.push(buf);
        r
    }
}

impl phy::Device for Port<'_> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _ts: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.tx_out.len() >= self.tx_room {
            // The stack may answer every frame it receives; keep room.
            if self.rx_in.is_empty() {
                return None;
            }
        }
        let buf = self.rx_in.pop_front()?;
        Some((
            RxToken {
                buf,
                done: self.rx_done,
            },
            TxToken {
                out: self.tx_out,
                free: self.free,
            },
        ))
    }

    fn transmit(&mut self, _ts: Instant) -> Option<TxToken<'_>> {
        if self.tx_out.len() >= self.tx_room {
            return None;
        }
        Some(TxToken {
            out: self.tx_out,
            free: self.free,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}

/// Ethernet + IPv4 + TCP header lengths, for a TCP frame with no options.
pub const HEADERS_MIN: usize = 14 + 20 + 20;

/// What the driver and the accounting need to know about a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dissected {
    /// Whether this is an IPv4 TCP segment.
    pub tcp: bool,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    /// Offset of the TCP payload in the frame.
    pub payload_offset: usize,
    pub payload_len: usize,
    /// Bytes the IP and TCP checksums cover, pseudo-header not counted:
    /// the IP header plus the whole TCP segment.
    pub checksummed: usize,
}

/// Parses a frame's headers with `smoltcp::wire`. Anything that is not a
/// well-formed IPv4 TCP frame comes back with `tcp == false`.
pub fn dissect(frame: &[u8]) -> Dissected {
    let mut d = Dissected::default();
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return d;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return d;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return d;
    };
    let ihl = ip.header_len() as usize;
    let total = ip.total_len() as usize;
    if ip.next_header() == IpProtocol::Icmp {
        d.checksummed = total;
        return d;
    }
    if ip.next_header() != IpProtocol::Tcp {
        return d;
    }
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
        return d;
    };
    let thl = tcp.header_len() as usize;
    d.tcp = true;
    d.src_port = tcp.src_port();
    d.dst_port = tcp.dst_port();
    d.seq = tcp.seq_number().0 as u32;
    d.syn = tcp.syn();
    d.fin = tcp.fin();
    d.payload_offset = 14 + ihl + thl;
    d.payload_len = total.saturating_sub(ihl + thl);
    d.checksummed = total;
    d
}

/// Bytes the IP and TCP checksums of an IPv4 frame cover (the IP total
/// length), read straight from the header; 0 for anything else. The cheap
/// cousin of [`dissect`] for the receive path.
pub fn ipv4_checksummed_len(frame: &[u8]) -> usize {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return 0;
    }
    u16::from_be_bytes([frame[16], frame[17]]) as usize
}

/// The TCP header fields NAPI needs for the receive queue, read straight
/// from the bytes of an IPv4/TCP frame: (source port, destination port,
/// sequence number, payload length, SYN). `None` for anything else.
pub fn tcp_segment(frame: &[u8]) -> Option<(u16, u16, u32, usize, bool)> {
    if frame.len() < HEADERS_MIN || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
        return None;
    }
    let ihl = ((frame[14] & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
    let t = 14 + ihl;
    if frame.len() < t + 20 || total < ihl + 20 {
        return None;
    }
    let be16 = |i: usize| u16::from_be_bytes([frame[i], frame[i + 1]]);
    let seq = u32::from_be_bytes([frame[t + 4], frame[t + 5], frame[t + 6], frame[t + 7]]);
    let thl = ((frame[t + 12] >> 4) as usize) * 4;
    let syn = frame[t + 13] & 0x02 != 0;
    let payload = total.checked_sub(ihl + thl)?;
    Some((be16(t), be16(t + 2), seq, payload, syn))
}

/// The NIC's checksum insertion: fills the IPv4 header checksum and the
/// TCP (or ICMP) checksum of a frame the stack left them blank in.
pub fn fill_checksums(frame: &mut [u8]) {
    let Ok(mut eth) = EthernetFrame::new_checked(&mut *frame) else {
        return;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return;
    }
    let Ok(mut ip) = Ipv4Packet::new_checked(eth.payload_mut()) else {
        return;
    };
    ip.fill_checksum();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    match ip.next_header() {
        IpProtocol::Tcp => {
            if let Ok(mut tcp) = TcpPacket::new_checked(ip.payload_mut()) {
                tcp.fill_checksum(&src.into(), &dst.into());
            }
        }
        IpProtocol::Icmp => {
            if let Ok(mut icmp) = Icmpv4Packet::new_checked(ip.payload_mut()) {
                icmp.fill_checksum();
            }
        }
        _ => {}
    }
}

/// Verifies the IPv4 header checksum and the TCP checksum of a frame, as
/// the stack does in software (`ip_fast_csum`, `tcp_checksum_complete`).
/// Non-IPv4 frames pass.
pub fn checksums_ok(frame: &[u8]) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return true;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return false;
    };
    if !ip.verify_checksum() {
        return false;
    }
    if ip.next_header() != IpProtocol::Tcp {
        return true;
    }
    let (src, dst): (Ipv4Address, Ipv4Address) = (ip.src_addr(), ip.dst_addr());
    match TcpPacket::new_checked(ip.payload()) {
        Ok(tcp) => tcp.verify_checksum(&src.into(), &dst.into()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ethernet + IPv4 + TCP (seq 0x01020304, ACK|PSH) + 4 payload bytes,
    // 192.168.69.1:49152 -> 192.168.69.2:5001, checksums valid.
    fn frame() -> Vec<u8> {
        use smoltcp::wire::{IpAddress, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber};
        let payload = [1u8, 2, 3, 4];
        let src = Ipv4Address::new(192, 168, 69, 1);
        let dst = Ipv4Address::new(192, 168, 69, 2);
        let tcp = TcpRepr {
            src_port: 49152,
            dst_port: 5001,
            control: TcpControl::Psh,
            seq_number: TcpSeqNumber(0x01020304),
            ack_number: Some(TcpSeqNumber(1)),
            window_len: 1000,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None, None, None],
            timestamp: None,
            payload: &payload,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; 14 + 20 + tcp.buffer_len()];
        let mut eth = EthernetFrame::new_unchecked(&mut buf);
        eth.set_ethertype(EthernetProtocol::Ipv4);
        let caps = ChecksumCapabilities::default();
        let mut ipp = Ipv4Packet::new_unchecked(eth.payload_mut());
        ip.emit(&mut ipp, &caps);
        let mut tcpp = TcpPacket::new_unchecked(ipp.payload_mut());
        tcp.emit(
            &mut tcpp,
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &caps,
        );
        buf
    }

    #[test]
    fn dissect_finds_ports_sequence_and_payload() {
        let f = frame();
        let d = dissect(&f);
        assert!(d.tcp);
        assert_eq!((d.src_port, d.dst_port, d.seq), (49152, 5001, 0x01020304));
        assert_eq!((d.payload_offset, d.payload_len), (54, 4));
        assert_eq!(&f[d.payload_offset..], &[1, 2, 3, 4]);
        assert_eq!(d.checksummed, 44);
        assert_eq!(ipv4_checksummed_len(&f), 44);
        assert_eq!(tcp_segment(&f), Some((49152, 5001, 0x01020304, 4, false)));
    }

    #[test]
    fn a_flipped_payload_bit_fails_the_checksum() {
        let mut f = frame();
        assert!(checksums_ok(&f));
        f[55] ^= 0x10;
        assert!(!checksums_ok(&f));
    }

    #[test]
    fn nic_checksum_insertion_makes_blank_checksums_valid() {
        let mut f = frame();
        // Blank both checksums, as the stack leaves them with tx offload.
        f[24] = 0;
        f[25] = 0;
        f[50] = 0;
        f[51] = 0;
        assert!(!checksums_ok(&f));
        fill_checksums(&mut f);
        assert!(checksums_ok(&f));
        assert_eq!(f, frame());
    }

    #[test]
    fn garbage_is_not_tcp() {
        assert!(!dissect(&[0u8; 10]).tcp);
        assert!(!dissect(&[0xffu8; 100]).tcp);
        assert_eq!(tcp_segment(&[0xffu8; 100]), None);
        assert_eq!(tcp_segment(&[0u8; 10]), None);
    }
}
