//! Socket addresses gvnet reads and rewrites: `sockaddr_nl` and the family of any address.
//!
//! Parsing works on byte arrays already copied out of the caller's memory, so a bad pointer can
//! never fault here; see [`crate::kernel::read_user`].

use crate::abi::SOCKADDR_NL_LEN;

/// `struct sockaddr_nl`: family, padding, port id, group bitmap (groups 1..=32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockaddrNl {
    /// `nl_family`.
    pub family: u16,
    /// `nl_pad`, kept so a rewritten address differs from the original only in `groups`.
    pub pad: u16,
    /// `nl_pid`.
    pub pid: u32,
    /// `nl_groups`: bit `g - 1` stands for multicast group `g`.
    pub groups: u32,
}

impl SockaddrNl {
    /// Decodes the 12 bytes of a `sockaddr_nl` in native byte order.
    pub fn from_bytes(b: &[u8; SOCKADDR_NL_LEN]) -> Self {
        SockaddrNl {
            family: u16::from_ne_bytes([b[0], b[1]]),
            pad: u16::from_ne_bytes([b[2], b[3]]),
            pid: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            groups: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    /// Encodes it back into the kernel's layout.
    pub fn to_bytes(self) -> [u8; SOCKADDR_NL_LEN] {
        let mut b = [0u8; SOCKADDR_NL_LEN];
        b[0..2].copy_from_slice(&self.family.to_ne_bytes());
        b[2..4].copy_from_slice(&self.pad.to_ne_bytes());
        b[4..8].copy_from_slice(&self.pid.to_ne_bytes());
        b[8..12].copy_from_slice(&self.groups.to_ne_bytes());
        b
    }

    /// The same address without multicast groups: what gVisor accepts.
    pub fn without_groups(self) -> Self {
        SockaddrNl { groups: 0, ..self }
    }
}

/// The address family stored in the first two bytes of any `sockaddr`.
pub fn family(b: [u8; 2]) -> u16 {
    u16::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_kernel_layout() {
        // A sockaddr_nl as C lays it out: family 16, pad 0, pid 1234, groups 0x11.
        let mut raw = [0u8; SOCKADDR_NL_LEN];
        raw[0..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
        raw[4..8].copy_from_slice(&1234u32.to_ne_bytes());
        raw[8..12].copy_from_slice(&0x11u32.to_ne_bytes());
        assert_eq!(core::mem::size_of::<libc::sockaddr_nl>(), SOCKADDR_NL_LEN);
        assert_eq!(core::mem::offset_of!(libc::sockaddr_nl, nl_groups), 8);
        let parsed = SockaddrNl::from_bytes(&raw);
        assert_eq!(parsed.family, 16);
        assert_eq!(parsed.pid, 1234);
        assert_eq!(parsed.groups, 0x11);
        assert_eq!(parsed.to_bytes(), raw);
        let cleared = parsed.without_groups();
        assert_eq!(cleared.groups, 0);
        assert_eq!(cleared.pid, 1234);
        assert_eq!(family([raw[0], raw[1]]), 16);
    }
}
