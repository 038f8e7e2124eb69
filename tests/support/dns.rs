//! A DNS server on 127.0.0.1 for the custom domains' checks: real DNS messages over UDP,
//! asked by the real resolver (hickory), answering TXT questions from a table the tests
//! fill. A name not in the table is `NXDOMAIN`. One server for the whole test process,
//! on its own thread (each test has its own runtime).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock};

/// The test DNS server.
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl DnsServer {
    /// Publishes `values` as the TXT records of `name` (replacing any).
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let values = values.iter().map(|v| (*v).to_owned()).collect();
        self.records.lock().unwrap().insert(name.trim_end_matches('.').to_ascii_lowercase(), values);
    }
}

/// The process's test DNS server, started on first use.
pub fn dns_server() -> &'static DnsServer {
    static SERVER: OnceLock<DnsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let table = records.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf) else { continue };
                if let Some(answer) = answer(&buf[..n], &table.lock().unwrap()) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        DnsServer { addr, records }
    })
}

/// The answer to one query (RFC 1035 §4): the question echoed, and the TXT records of
/// its name; `None` for what is not a query.
fn answer(query: &[u8], records: &HashMap<String, Vec<String>>) -> Option<Vec<u8>> {
    if query.len() < 12 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let name = labels.join(".");
    let found = records.get(&name);
    let txt: &[String] = if qtype == 16 { found.map_or(&[], Vec::as_slice) } else { &[] };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]);
    // QR, AA, RD as asked, RA; NXDOMAIN for a name it does not know.
    let rd = query[2] & 0x01;
    out.push(0x84 | rd);
    out.push(if found.is_some() { 0x80 } else { 0x83 });
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(txt.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for value in txt {
        let mut rdata = Vec::new();
        for chunk in value.as_bytes().chunks(255) {
            rdata.push(u8::try_from(chunk.len()).ok()?);
            rdata.extend_from_slice(chunk);
        }
        out.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 1, 0, 0, 0, 0]);
        out.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}
