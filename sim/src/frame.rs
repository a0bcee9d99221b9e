//! Frame headers: what the driver, NAPI, GRO and the NIC read and rewrite.
//!
//! Owns the model's view of an Ethernet/IPv4/TCP frame: [`Dissected`] and
//! [`TcpSeg`] (ports, sequence and ACK numbers, flags, payload span, the
//! bytes the checksums cover), read with `smoltcp::wire` or from fixed
//! offsets on the hot paths; cutting a super-segment into MSS-sized frames
//! ([`segment`], TSO and `tcp_gso_segment`); GRO's merge of the next
//! segment ([`gro_merge`]); and checksum insertion and verification.
//!
//! Does not decide when any of it happens or what it costs: the driver,
//! NAPI and the NIC do, and charge for it.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Packet, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket,
};

/// Largest super-segment the stack may hand over for segmentation offload:
/// the IPv4 total-length limit plus the Ethernet header (`GSO_MAX_SIZE`).
pub const GSO_MAX_FRAME: usize = 14 + 65535;

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
    /// A pure ACK: ACK set, no payload, no SYN, FIN or RST.
    pub pure_ack: bool,
    /// Offset of the TCP payload in the frame.
    pub payload_offset: usize,
    pub payload_len: usize,
    /// Bytes the IP and TCP checksums cover, pseudo-header not counted:
    /// the IP header plus the whole TCP segment.
    pub checksummed: usize,
}

/// The driver's view of a frame, from [`tcp_segment`]'s fixed-offset read
/// (cheaper than [`dissect`], which checks every header with smoltcp).
pub fn dissect_fast(frame: &[u8]) -> Dissected {
    match tcp_segment(frame) {
        Some(g) => Dissected {
            tcp: true,
            src_port: g.src_port,
            dst_port: g.dst_port,
            seq: g.seq,
            syn: g.syn(),
            fin: g.flags & TCP_FIN != 0,
            pure_ack: g.pure_ack(),
            payload_offset: 14 + g.ip_len as usize - g.payload_len,
            payload_len: g.payload_len,
            checksummed: g.ip_len as usize,
        },
        None => Dissected {
            checksummed: ipv4_checksummed_len(frame),
            ..Dissected::default()
        },
    }
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
    d.pure_ack = tcp.ack() && !(tcp.syn() || tcp.fin() || tcp.rst()) && d.payload_len == 0;
    d.checksummed = total;
    d
}

/// Bytes the IP and TCP checksums of an IPv4 frame cover (the IP total
/// length, or what the frame holds of it), read straight from the header; 0
/// for anything else. The cheap cousin of [`dissect`] for the receive path.
pub fn ipv4_checksummed_len(frame: &[u8]) -> usize {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return 0;
    }
    (u16::from_be_bytes([frame[16], frame[17]]) as usize).min(frame.len() - 14)
}

/// TCP flag bits (byte 13 of the header).
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// The TCP header fields NAPI and GRO need, read straight from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSeg {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload_len: usize,
    /// IP total length: the bytes the IP and TCP checksums cover.
    pub ip_len: u16,
    /// IPv4 destination address.
    pub dst_ip: [u8; 4],
}

impl TcpSeg {
    pub fn syn(&self) -> bool {
        self.flags & TCP_SYN != 0
    }

    /// A pure ACK: ACK set, no payload, no SYN, FIN or RST.
    pub fn pure_ack(&self) -> bool {
        self.flags & (TCP_ACK | TCP_SYN | TCP_FIN | TCP_RST) == TCP_ACK && self.payload_len == 0
    }

    /// Whether this segment continues `open` in the same flow: next in
    /// sequence, same ACK, data with no flag but ACK and PSH.
    pub fn continues(&self, open: &TcpSeg) -> bool {
        (self.src_port, self.dst_port, self.ack) == (open.src_port, open.dst_port, open.ack)
            && self.seq == open.seq.wrapping_add(open.payload_len as u32)
            && self.payload_len > 0
            && self.flags & !(TCP_ACK | TCP_PSH) == 0
    }
}

/// The TCP segment in an IPv4 frame, read from fixed offsets; `None` for
/// anything else, and for what Linux drops before TCP sees it (and smoltcp
/// too): an IP or TCP header below its minimum length, an IP total length
/// beyond the frame (`ip_rcv_core`, `tcp_v4_rcv`). Bytes after the IP
/// total length (Ethernet padding) are not part of the segment.
pub fn tcp_segment(frame: &[u8]) -> Option<TcpSeg> {
    if frame.len() < HEADERS_MIN || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
        return None;
    }
    let ihl = ((frame[14] & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
    let t = 14 + ihl;
    if ihl < 20 || 14 + total > frame.len() || total < ihl + 20 {
        return None;
    }
    let be16 = |i: usize| u16::from_be_bytes([frame[i], frame[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
    let thl = ((frame[t + 12] >> 4) as usize) * 4;
    if thl < 20 {
        return None;
    }
    Some(TcpSeg {
        src_port: be16(t),
        dst_port: be16(t + 2),
        seq: be32(t + 4),
        ack: be32(t + 8),
        flags: frame[t + 13],
        payload_len: total.checked_sub(ihl + thl)?,
        ip_len: total as u16,
        dst_ip: [frame[30], frame[31], frame[32], frame[33]],
    })
}

/// GRO: appends `frame`'s payload to the open skb `skb`, growing its IP
/// total length and taking the newer segment's PSH flag and window. The
/// merged skb's checksums are not recomputed: GRO validated each segment
/// and the stack trusts it (CHECKSUM_UNNECESSARY).
///
/// Ethernet padding after either's IP total length is left out (Linux trims
/// it, `pskb_trim_rcsum`): the merged bytes are the two payloads.
pub fn gro_merge(skb: &mut Vec<u8>, frame: &[u8], seg: &TcpSeg) {
    let end = 14 + seg.ip_len as usize;
    let payload = &frame[end - seg.payload_len..end];
    let old = u16::from_be_bytes([skb[16], skb[17]]) as usize;
    skb.truncate(14 + old);
    skb.extend_from_slice(payload);
    let total = old + seg.payload_len;
    skb[16..18].copy_from_slice(&(total as u16).to_be_bytes());
    let t = 14 + ((skb[14] & 0x0f) as usize) * 4;
    let ft = 14 + ((frame[14] & 0x0f) as usize) * 4;
    skb[t + 13] |= frame[ft + 13] & TCP_PSH;
    skb[t + 14..t + 16].copy_from_slice(&frame[ft + 14..ft + 16]);
}

/// Cuts a TCP super-segment into MSS-sized frames, as TSO hardware and
/// `tcp_gso_segment` do: headers replicated, IP id, total length and TCP
/// sequence number fixed per segment, FIN and PSH kept for the last one.
/// Checksums are left for the caller ([`fill_checksums`]). Each segment goes
/// to `out` in a buffer taken from `free`. Returns how many segments.
pub fn segment(
    frame: &[u8],
    mss: usize,
    free: &mut Vec<Vec<u8>>,
    out: &mut impl FnMut(Vec<u8>),
) -> usize {
    let d = dissect(frame);
    if !d.tcp || mss == 0 || d.payload_len <= mss {
        let mut buf = free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        out(buf);
        return 1;
    }
    let hdr = d.payload_offset;
    let tcp_at = 14 + (frame[14] as usize & 0x0f) * 4;
    let ident = u16::from_be_bytes([frame[18], frame[19]]);
    let payload = &frame[hdr..hdr + d.payload_len];
    let n = d.payload_len.div_ceil(mss);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let mut buf = free.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&frame[..hdr]);
        buf.extend_from_slice(chunk);
        let total = (hdr - 14 + chunk.len()) as u16;
        buf[16..18].copy_from_slice(&total.to_be_bytes());
        buf[18..20].copy_from_slice(&ident.wrapping_add(i as u16).to_be_bytes());
        let seq = d.seq.wrapping_add((i * mss) as u32);
        buf[tcp_at + 4..tcp_at + 8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < n {
            // FIN and PSH belong to the last segment only.
            buf[tcp_at + 13] &= !(TCP_FIN | TCP_PSH);
        }
        out(buf);
    }
    n
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
    use smoltcp::phy::ChecksumCapabilities;

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
        assert_eq!(dissect_fast(&f), d);
        assert_eq!(ipv4_checksummed_len(&f), 44);
        let g = tcp_segment(&f).unwrap();
        assert_eq!(
            (g.src_port, g.dst_port, g.seq, g.payload_len),
            (49152, 5001, 0x01020304, 4)
        );
        assert_eq!(g.flags, TCP_ACK | TCP_PSH);
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
    fn a_super_segment_is_cut_into_valid_mss_frames() {
        // Build a 4-byte-payload frame, then cut it with an MSS of 3.
        let f = frame();
        let mut free = Vec::new();
        let mut segs = Vec::new();
        let n = segment(&f, 3, &mut free, &mut |b| segs.push(b));
        assert_eq!(n, 2);
        let mut payload = Vec::new();
        for (i, s) in segs.iter_mut().enumerate() {
            fill_checksums(s);
            assert!(checksums_ok(s));
            let d = dissect(s);
            assert_eq!(d.seq, 0x01020304 + 3 * i as u32);
            payload.extend_from_slice(&s[d.payload_offset..]);
        }
        assert_eq!(payload, [1, 2, 3, 4]);
        assert_eq!(segs[0][14 + 20 + 13] & 0x08, 0, "PSH only on the last");
        assert_eq!(segs[1][14 + 20 + 13] & 0x08, 0x08);
    }

    #[test]
    fn gro_merges_the_next_segment_into_one_larger_skb() {
        let f = frame();
        let mut first = Vec::new();
        let mut rest = Vec::new();
        let mut free = Vec::new();
        let mut k = 0;
        segment(&f, 2, &mut free, &mut |b| {
            if k == 0 {
                first = b
            } else {
                rest = b
            }
            k += 1;
        });
        let open = tcp_segment(&first).unwrap();
        let next = tcp_segment(&rest).unwrap();
        assert!(next.continues(&open));
        gro_merge(&mut first, &rest, &next);
        let merged = tcp_segment(&first).unwrap();
        assert_eq!(merged.payload_len, 4);
        assert_eq!(&first[54..], &[1, 2, 3, 4]);
        assert_eq!(merged.flags & TCP_PSH, TCP_PSH);
        assert!(!open.continues(&next), "not in sequence");
    }

    #[test]
    fn what_linux_drops_before_tcp_is_not_a_segment() {
        let f = frame();
        // The IP total length beyond the frame (a truncated packet).
        assert_eq!(tcp_segment(&f[..f.len() - 1]), None);
        assert_eq!(dissect_fast(&f[..f.len() - 1]).payload_len, 0);
        assert_eq!(ipv4_checksummed_len(&f[..50]), 36, "what the frame holds");
        // An IP header of fewer than 5 words, a TCP header of fewer than 5.
        let mut g = f.clone();
        g[14] = 0x44;
        assert_eq!(tcp_segment(&g), None);
        let mut g = f.clone();
        g[14 + 20 + 12] = 0x40;
        assert_eq!(tcp_segment(&g), None);
        // Ethernet padding is not payload.
        let mut g = f.clone();
        g.extend_from_slice(&[0xee; 6]);
        assert_eq!(tcp_segment(&g), tcp_segment(&f));
    }

    #[test]
    fn gro_merges_payloads_not_padding() {
        let f = frame();
        let mut free = Vec::new();
        let mut segs = Vec::new();
        segment(&f, 2, &mut free, &mut |b| segs.push(b));
        let (mut first, mut rest) = (segs[0].clone(), segs[1].clone());
        first.extend_from_slice(&[0xee; 4]);
        rest.extend_from_slice(&[0xdd; 4]);
        let next = tcp_segment(&rest).unwrap();
        gro_merge(&mut first, &rest, &next);
        assert_eq!(&first[54..], &[1, 2, 3, 4]);
        assert_eq!(tcp_segment(&first).unwrap().payload_len, 4);
    }

    #[test]
    fn garbage_is_not_tcp() {
        assert!(!dissect(&[0u8; 10]).tcp);
        assert!(!dissect(&[0xffu8; 100]).tcp);
        assert_eq!(tcp_segment(&[0xffu8; 100]), None);
        assert_eq!(tcp_segment(&[0u8; 10]), None);
    }
}
