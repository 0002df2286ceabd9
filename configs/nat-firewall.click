// nat-firewall.click -- a NAT gateway with a firewall in front of its translator
//
// configs/nat-gateway.click (a network address and port translator with
// real Ethernet on both sides, in the spirit of Click's mazu-nat.click)
// with a firewall on the way out: TCP and UDP from the inside pass an
// ordered rule list (IPFilter 'fw') before the rewriter maps them. The
// first rule that matches decides; what is refused is counted and dropped.
// Outward, the inside may not send mail straight out (TCP port 25), reach
// BLOCKED_NET, or open TCP connections to BLOCKED_PORT; everything else is
// translated as nat-gateway.click does, and only replies come back in.
//
// The firewall is an element of its own, in front of the rewriter, so that
// a hot reload changing a rule replaces fw alone: the rewriter object
// carries on, and the connections it has mapped with it (clickpy reload).
//
// Parameters (NAME=value; clickpy lab passes the device and address ones):
//   CLIENT_DEV, CLIENT_IP, CLIENT_NET, CLIENT_MAC   the inside interface
//   SERVER_DEV, SERVER_IP, SERVER_NET, SERVER_MAC   the outside interface
//   GATEWAY   the outside next hop for addresses beyond SERVER_NET (10.0.2.254)
//   PORTS     the outside source ports NAT uses            (50000-65535)
//   TIMEOUT   seconds an idle UDP mapping lives            (300)
//   TCP_TIMEOUT  seconds an idle established TCP mapping lives (86400)
//   REAP      seconds between sweeps of expired mappings   (10)
//   BLOCKED_PORT  a TCP port the inside may not connect to (23, telnet)
//   BLOCKED_NET   a network the inside may not reach       (192.0.2.0/24)
//
// Handlers: fw_denied.count (packets the firewall refused), rw.nmappings
// (mappings held), rw.tcp_table, rw.udp_table, rw.mapping_failures,
// pr.nmappings (pings).
//
// Try it (-R lets 'clickpy reload' change the running configuration):
//   sudo clickpy lab up configs/nat-firewall.click -R
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.2 &
//   sudo clickpy lab exec client curl -s http://10.0.2.2:8000/ >/dev/null   (allowed)
//   sudo clickpy reload --dry-run /run/clickpy-lab/clickpy.ctl configs/nat-firewall.click BLOCKED_PORT=8000
//   sudo clickpy reload /run/clickpy-lab/clickpy.ctl configs/nat-firewall.click BLOCKED_PORT=8000
//   sudo clickpy lab exec client curl -s -m 3 http://10.0.2.2:8000/          (refused: times out)
//   sudo clickpy lab read fw_denied.count
//   sudo clickpy lab down

define($CLIENT_DEV to-client, $CLIENT_IP 10.0.1.1, $CLIENT_NET 10.0.1.0/24, $CLIENT_MAC 02:00:0a:00:01:01,
       $SERVER_DEV to-server, $SERVER_IP 10.0.2.1, $SERVER_NET 10.0.2.0/24, $SERVER_MAC 02:00:0a:00:02:01,
       $GATEWAY 10.0.2.254, $PORTS 50000-65535,
       $TIMEOUT 300, $TCP_TIMEOUT 86400, $REAP 10,
       $BLOCKED_PORT 23, $BLOCKED_NET 192.0.2.0/24);

AddressInfo(intern $CLIENT_IP $CLIENT_NET $CLIENT_MAC,
            extern $SERVER_IP $SERVER_NET $SERVER_MAC);

// DEVICES AND ARP. Classifier outputs: ARP query, ARP reply, IP, other.

intern_class :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
extern_class :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
FromDevice($CLIENT_DEV, SNIFFER false, PROMISC true) -> intern_class;
FromDevice($SERVER_DEV, SNIFFER false, PROMISC true) -> extern_class;
to_intern :: Queue(1024) -> ToDevice($CLIENT_DEV);
to_extern :: Queue(1024) -> ToDevice($SERVER_DEV);

intern_class[0] -> ARPResponder(intern) -> to_intern;
extern_class[0] -> ARPResponder(extern) -> to_extern;
intern_arpq :: ARPQuerier(intern) -> to_intern;
extern_arpq :: ARPQuerier(extern) -> to_extern;
intern_class[1] -> [1]intern_arpq;
extern_class[1] -> [1]extern_arpq;
intern_class[3] -> Discard;
extern_class[3] -> Discard;

// REWRITERS. Input 0 is traffic from inside, input 1 from outside; output
// 0 leads outside, output 1 inside.

IPRewriterPatterns(to_world extern $PORTS - -);
rw :: IPRewriter(pattern to_world 0 1,    // inside: map a new flow
                 drop,                    // outside: only replies (mapped flows)
                 UDP_TIMEOUT $TIMEOUT, UDP_GUARANTEE 0,
                 TCP_TIMEOUT $TCP_TIMEOUT, REAP_INTERVAL $REAP);
pr :: ICMPPingRewriter(pattern extern - - - 0 1, drop,
                       TIMEOUT $TIMEOUT, REAP_INTERVAL $REAP);
er :: ICMPRewriter(rw pr);

// OUTPUT PATHS: decrement the TTL, find the next hop's Ethernet address.

ip_to_extern :: RadixIPLookup($SERVER_NET 0, 0.0.0.0/0 $GATEWAY 0)
    -> dt_out :: DecIPTTL -> [0]extern_arpq;
ip_to_intern :: GetIPAddress(16) -> dt_in :: DecIPTTL -> [0]intern_arpq;
dt_out[1] -> ICMPError(intern, timeexceeded) -> ip_to_intern;
dt_in[1] -> Discard;

rw[0] -> ip_to_extern;
rw[1] -> ip_to_intern;
pr[0] -> ip_to_extern;
pr[1] -> ip_to_intern;
er[0] -> ip_to_extern;
er[1] -> ip_to_intern;

// FIREWALL, on the way out, in front of the rewriter. Output 0: to
// translate; output 1: refused.

fw :: IPFilter(1 tcp dst port 25,                  // no mail straight out
               1 dst net $BLOCKED_NET,             // a network the inside may not reach
               1 tcp dst port $BLOCKED_PORT,       // a service the inside may not use
               0 all);
fw[0] -> [0]rw;
fw[1] -> fw_denied :: Counter -> Discard;

// FROM INSIDE: the gateway's own address (pings answered), the inside
// network (dropped), and the rest of the world (translated).

intern_class[2] -> Strip(14) -> CheckIPHeader -> from_intern :: IPClassifier(
    dst host intern,                     // 0: for the gateway itself
    dst net $CLIENT_NET,                 // 1: stays inside
    tcp or udp,                          // 2: to the firewall, then translated
    icmp type echo,                      // 3: pings outward
    -);                                  // 4: other protocols
from_intern[0] -> IPClassifier(icmp type echo) -> ICMPPingResponder -> ip_to_intern;
from_intern[1] -> Discard;
from_intern[2] -> fw;
from_intern[3] -> [0]pr;
from_intern[4] -> Discard;

// FROM OUTSIDE: replies to translated flows; pings to the gateway.

extern_class[2] -> Strip(14) -> CheckIPHeader -> from_extern :: IPClassifier(
    dst host extern and (tcp or udp),                  // 0: replies?
    dst host extern and icmp type echo-reply,          // 1: ping replies?
    dst host extern and icmp type echo,                // 2: pings to the gateway
    dst host extern and icmp,                          // 3: ICMP errors about flows
    -);
from_extern[0] -> [1]rw;
from_extern[1] -> [1]pr;
from_extern[2] -> ICMPPingResponder -> ip_to_extern;
from_extern[3] -> er;
from_extern[4] -> Discard;
