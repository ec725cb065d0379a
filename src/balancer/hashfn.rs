//! Hash functions that real load balancers use, so hash-based algorithms map keys exactly
//! as their real counterparts do.
//!
//! * [`crc32`]: zlib CRC-32 (IEEE 802.3, reflected, init/xorout `0xffffffff`): nginx
//!   `ngx_crc32_short`/`ngx_crc32_update`, used by `hash` and `hash … consistent` (ketama).
//! * [`xxh64`]: xxHash64 (Yann Collet), Envoy's default host and request hash (ring_hash,
//!   maglev, rendezvous).
//! * [`full_hash`]: HAProxy's 32-bit integer mixer (`include/haproxy/intops.h`): Bob
//!   Jenkins' 6-step hash times 3221225473, used for `avalanche` and consistent hashing.
//! * [`sdbm`]: HAProxy's default string hash (`src/hash.c`, `hash_sdbm`).
//! * [`decimal`]: the text form of a numeric request key (no allocation).
//!
//! Conventions shared by every hashing algorithm:
//! * what a request hashes is chosen by the `hash_on` parameter ([`HASH_ON`]): the request
//!   key (`key`, its decimal text, like nginx `hash $request_uri`), the client address
//!   (`ip`, dotted quad, like `hash $remote_addr`), or the client id (`client`);
//!   [`request_text`] produces it;
//! * a server's identity string, which rings and tables hash, is its address
//!   `10.a.b.c:80` with `a.b.c` the bytes of `id + 1` ([`server_address`]): server id 0 is
//!   `10.0.0.1:80`, id 1 is `10.0.0.2:80`, ..., as in the reference's Envoy vectors.

/// The CRC-32 table for the reflected polynomial 0xEDB88320, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC-32 over `bytes` from the running (pre-inverted) state `crc`;
/// start with `0xffffffff` and invert at the end, as nginx's `ngx_crc32_update` does.
#[inline]
pub fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// zlib's `crc32(0, bytes)`.
#[inline]
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0xffff_ffff, bytes) ^ 0xffff_ffff
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

#[inline]
fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

#[inline]
fn merge(acc: u64, val: u64) -> u64 {
    (acc ^ round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn read_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

fn read_u32(b: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(b[..4].try_into().expect("4 bytes")))
}

/// xxHash64 of `input` with `seed` (the reference algorithm, XXH64).
pub fn xxh64(input: &[u8], seed: u64) -> u64 {
    let len = input.len();
    let mut rest = input;
    let mut h = if len >= 32 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while rest.len() >= 32 {
            for (i, lane) in v.iter_mut().enumerate() {
                *lane = round(*lane, read_u64(&rest[8 * i..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(len as u64);
    while rest.len() >= 8 {
        h ^= round(0, read_u64(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        h ^= read_u32(rest).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

/// HAProxy's `full_hash`: Bob Jenkins' 32-bit integer hash, then a multiplication by
/// 3221225473 (a prime near 3/4 of 2³²) to spread values around the tree.
#[inline]
pub fn full_hash(mut a: u32) -> u32 {
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

/// HAProxy's `hash_sdbm`: `h = c + (h << 6) + (h << 16) − h` over the bytes.
#[inline]
pub fn sdbm(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |h, &c| {
        u32::from(c)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

/// Writes the decimal text of `x` into `buf` and returns it (no allocation): the text
/// form of a numeric request key.
#[inline]
pub fn decimal(x: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut x = x;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    &buf[i..]
}

use super::{ParamDef, ParamKind, ParamValue, RequestInfo};

/// The `hash_on` parameter shared by hashing algorithms.
pub const HASH_ON: ParamDef = ParamDef {
    key: "hash_on",
    kind: ParamKind::Choice(&["key", "ip", "client"]),
    default: ParamValue::Word("key"),
    doc: "what to hash: the request key (like $request_uri), the client address ($remote_addr) or the client id",
};

/// The bytes a request hashes to under `hash_on` (`"key"`, `"ip"` or `"client"`), written
/// into `buf`; `None` if the request has no key and `hash_on = "key"`.
#[inline]
pub fn request_text<'b>(
    req: &RequestInfo,
    hash_on: &str,
    buf: &'b mut [u8; 20],
) -> Option<&'b [u8]> {
    match hash_on {
        "ip" => Some(dotted_quad(req.client_ip, buf)),
        "client" => Some(decimal(u64::from(req.client), buf)),
        _ => req.key.map(|k| decimal(k, buf)),
    }
}

/// `a.b.c.d` for a big-endian IPv4 address, written into `buf`.
#[inline]
pub fn dotted_quad(ip: u32, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = 0;
    for (i, octet) in ip.to_be_bytes().iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let mut d = [0u8; 20];
        let text = decimal(u64::from(*octet), &mut d);
        buf[n..n + text.len()].copy_from_slice(text);
        n += text.len();
    }
    &buf[..n]
}

/// The address string `10.a.b.c:80` of server `id` (see the module docs).
pub fn server_address(id: u32) -> String {
    let [_, a, b, c] = (id + 1).to_be_bytes();
    format!("10.{a}.{b}.{c}:80")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_values() {
        // The CRC-32 "check" value and two more from zlib.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414f_a339
        );
        // Incremental update equals one pass.
        let st = crc32_update(0xffff_ffff, b"1234");
        assert_eq!(crc32_update(st, b"56789") ^ 0xffff_ffff, 0xcbf4_3926);
    }

    #[test]
    fn xxh64_reference_values() {
        // From the xxHash reference implementation's test vectors.
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        // lb-semantics §4 (Envoy ring_hash vector).
        assert_eq!(xxh64(b"10.0.0.1:80_0", 0), 8_431_885_850_995_268_104);
        assert_eq!(xxh64(b"user0", 0), 7_641_270_430_879_821_858);
        // A 32+ byte input exercises the four-lane loop.
        let long = b"Nobody inspects the spammish repetition";
        assert_eq!(xxh64(long, 0), 0xFBCE_A83C_8A37_8BF1);
    }

    #[test]
    fn request_text_and_addresses() {
        let mut buf = [0u8; 20];
        assert_eq!(dotted_quad(0xc0a8_010a, &mut buf), b"192.168.1.10");
        assert_eq!(dotted_quad(0, &mut buf), b"0.0.0.0");
        let req = RequestInfo {
            client_ip: 0x0a00_0001,
            client: 42,
            key: Some(7),
            ..RequestInfo::default()
        };
        assert_eq!(request_text(&req, "key", &mut buf), Some(&b"7"[..]));
        assert_eq!(request_text(&req, "ip", &mut buf), Some(&b"10.0.0.1"[..]));
        assert_eq!(request_text(&req, "client", &mut buf), Some(&b"42"[..]));
        let keyless = RequestInfo { key: None, ..req };
        assert_eq!(request_text(&keyless, "key", &mut buf), None);
        assert_eq!(server_address(0), "10.0.0.1:80");
        assert_eq!(server_address(2), "10.0.0.3:80");
        assert_eq!(server_address(255), "10.0.1.0:80");
    }

    #[test]
    fn sdbm_and_decimal() {
        assert_eq!(sdbm(b""), 0);
        assert_eq!(sdbm(b"a"), 97);
        // h("ab") = 'b' + (97 << 6) + (97 << 16) − 97.
        assert_eq!(sdbm(b"ab"), 98 + (97 << 6) + (97 << 16) - 97);
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1234567890, &mut buf), b"1234567890");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn full_hash_is_the_jenkins_mix_times_the_prime() {
        // The mix is pinned end to end by HAProxy's `source`/`consistent` vectors in the
        // hashing balancers' tests; here, the composition of the two stages.
        let jenkins = |mut a: u32| {
            a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
            a = (a ^ 0xc761_c23c) ^ (a >> 19);
            a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
            a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
            a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
            (a ^ 0xb55a_4f09) ^ (a >> 16)
        };
        for x in [0u32, 1, 0x7f00_0001, u32::MAX] {
            assert_eq!(full_hash(x), jenkins(x).wrapping_mul(3_221_225_473));
        }
    }
}
