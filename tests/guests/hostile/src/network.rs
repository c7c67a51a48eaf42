//! `/escape/network`: TCP, UDP and DNS, through `wasi:sockets` directly and through `std::net`.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Network};
use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket, udp_create_socket};

use crate::json::{self, Object};

/// Where the test listens: the host's loopback address.
const LOCALHOST: (u8, u8, u8, u8) = (127, 0, 0, 1);

/// Tries to reach the test's TCP listener on `tcp_port` and its UDP socket on `udp_port`, to
/// bind a UDP socket and to resolve `localhost`; renders one outcome per attempt.
pub fn report(tcp_port: Option<u16>, udp_port: Option<u16>) -> String {
    let network = instance_network::instance_network();
    let mut out = Object::new();
    if let Some(port) = tcp_port {
        out =
            out.string("tcp_wasi", &tcp_connect(&network, port)).string("tcp_std", &tcp_std(port));
    }
    out = out.string("udp_bind_wasi", &udp_bind(&network)).string(
        "udp_std",
        &json::outcome(udp_std(udp_port), |sent| format!("bound, sent {sent} bytes")),
    );
    out.string("dns_wasi", &resolve(&network, "localhost"))
        .string(
            "dns_std",
            &json::outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80"), |addrs| {
                addrs.map(|a| a.to_string()).collect::<Vec<_>>().join("|")
            }),
        )
        .finish()
}

/// Connects to the test's TCP listener through `wasi:sockets` and writes a line to it.
fn tcp_connect(network: &Network, port: u16) -> String {
    let socket = match tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
        Ok(socket) => socket,
        Err(e) => return format!("err:create:{}", e.name()),
    };
    let remote = IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: LOCALHOST });
    if let Err(e) = socket.start_connect(network, remote) {
        return format!("err:start-connect:{}", e.name());
    }
    socket.subscribe().block();
    match socket.finish_connect() {
        Ok((_input, output)) => {
            let _ = output.blocking_write_and_flush(b"hostile guest was here\n");
            "ok:connected".to_string()
        }
        Err(e) => format!("err:finish-connect:{}", e.name()),
    }
}

/// Connects to the test's TCP listener through `std::net` and writes a line to it.
fn tcp_std(port: u16) -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    json::outcome(TcpStream::connect_timeout(&addr, Duration::from_secs(2)), |mut stream| {
        let _ = stream.write_all(b"hostile guest was here\n");
        "connected".to_string()
    })
}

/// Binds a UDP socket to any port through `wasi:sockets`.
fn udp_bind(network: &Network) -> String {
    let socket = match udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4) {
        Ok(socket) => socket,
        Err(e) => return format!("err:create:{}", e.name()),
    };
    let local = IpSocketAddress::Ipv4(Ipv4SocketAddress { port: 0, address: (0, 0, 0, 0) });
    if let Err(e) = socket.start_bind(network, local) {
        return format!("err:start-bind:{}", e.name());
    }
    socket.subscribe().block();
    match socket.finish_bind() {
        Ok(()) => "ok:bound".to_string(),
        Err(e) => format!("err:finish-bind:{}", e.name()),
    }
}

/// Binds with `std::net` and, if the test gave a UDP port, sends it a datagram.
fn udp_std(port: Option<u16>) -> std::io::Result<usize> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    match port {
        Some(port) => socket.send_to(b"hostile guest was here\n", ("127.0.0.1", port)),
        None => Ok(0),
    }
}

/// Resolves `name` through `wasi:sockets`, waiting for each address.
fn resolve(network: &Network, name: &str) -> String {
    let stream = match ip_name_lookup::resolve_addresses(network, name) {
        Ok(stream) => stream,
        Err(e) => return format!("err:resolve:{}", e.name()),
    };
    let mut found = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(addr)) => found.push(format!("{addr:?}")),
            Ok(None) => break,
            Err(e) if e.name() == "would-block" => stream.subscribe().block(),
            Err(e) => return format!("err:next:{}", e.name()),
        }
    }
    format!("ok:{}", found.join("|"))
}
