// stateful-firewall.click -- a routed firewall that lets in only replies
//
// Sits on the routed path between an inside network (the client side) and
// an outside one (the server side), as their gateway (ARP, next hops, TTL,
// pings to itself, as in stateless-firewall.click). It remembers every TCP
// and UDP flow the inside opens, in an IPRewriter used as a flow table:
// 'keep' maps a new flow to itself, addresses unchanged, so its replies
// are recognised and passed; packets from the outside that belong to no
// flow meet the 'drop' spec. New connections may come only from the
// inside; whatever the outside sends first is dropped, ACK flag or not.
// Pings work the same way (ICMPPingRewriter), and ICMP errors about known
// flows come back in (ICMPRewriter). A flow is forgotten after TIMEOUT
// seconds without packets (UDP), or when a TCP connection ends.
//
// Parameters (NAME=value; clickpy lab passes the device and address ones):
//   CLIENT_DEV, CLIENT_IP, CLIENT_NET, CLIENT_MAC   the inside interface
//   SERVER_DEV, SERVER_IP, SERVER_NET, SERVER_MAC   the outside interface
//   GATEWAY    the outside next hop beyond SERVER_NET  (10.0.2.254)
//   TIMEOUT    seconds an idle UDP flow is remembered   (60)
//   TCP_TIMEOUT  seconds an idle TCP connection is      (7200)
//
// Handlers: flows.nmappings, flows.tcp_table, flows.udp_table (the flow
// table); in_denied.count (outside TCP/UDP packets of no known flow);
// out_ok.count, in_ok.count (packets passed each way).
//
// Try it:
//   sudo clickpy lab up configs/stateful-firewall.click
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.2 &
//   sudo clickpy lab exec client curl -s http://10.0.2.2:8000/ | head -3   (works)
//   sudo clickpy lab exec client python3 -m http.server 8000 --bind 10.0.1.2 &
//   sudo clickpy lab exec server curl -s -m 3 http://10.0.1.2:8000/       (times out)
//   sudo clickpy lab read flows.tcp_table in_denied.count
//   sudo clickpy lab down

define($CLIENT_DEV to-client, $CLIENT_IP 10.0.1.1, $CLIENT_NET 10.0.1.0/24, $CLIENT_MAC 02:00:0a:00:01:01,
       $SERVER_DEV to-server, $SERVER_IP 10.0.2.1, $SERVER_NET 10.0.2.0/24, $SERVER_MAC 02:00:0a:00:02:01,
       $GATEWAY 10.0.2.254, $TIMEOUT 60, $TCP_TIMEOUT 7200);

// INTERFACES AND ARP. Classifier outputs: ARP query, ARP reply, IP, other.

c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
FromDevice($CLIENT_DEV, SNIFFER false, PROMISC true) -> c0;
FromDevice($SERVER_DEV, SNIFFER false, PROMISC true) -> c1;
to_inside :: Queue(1024) -> ToDevice($CLIENT_DEV);
to_outside :: Queue(1024) -> ToDevice($SERVER_DEV);

c0[0] -> ARPResponder($CLIENT_IP $CLIENT_MAC) -> to_inside;
c1[0] -> ARPResponder($SERVER_IP $SERVER_MAC) -> to_outside;
arpq0 :: ARPQuerier($CLIENT_IP, $CLIENT_MAC) -> to_inside;
arpq1 :: ARPQuerier($SERVER_IP, $SERVER_MAC) -> to_outside;
c0[1] -> [1]arpq0;
c1[1] -> [1]arpq1;
c0[3] -> Discard;
c1[3] -> Discard;

// ROUTES: the next hop of packets leaving on each side.

ip_to_outside :: RadixIPLookup($SERVER_NET 0, 0.0.0.0/0 $GATEWAY 0)
    -> dt1 :: DecIPTTL -> [0]arpq1;
ip_to_inside :: RadixIPLookup($CLIENT_NET 0)
    -> dt0 :: DecIPTTL -> [0]arpq0;
dt1[1] -> ICMPError($CLIENT_IP, timeexceeded) -> ip_to_inside;
dt0[1] -> ICMPError($SERVER_IP, timeexceeded) -> ip_to_outside;

// THE FLOW TABLE. Input 0: from the inside (remember the flow); input 1:
// from the outside (known flows only; the rest leaves on output 2, to be
// counted and dropped). Output 0 leads out, output 1 in.

flows :: IPRewriter(keep 0 1, pass 2,
                    UDP_TIMEOUT $TIMEOUT, TCP_TIMEOUT $TCP_TIMEOUT, REAP_INTERVAL 5);
pings :: ICMPPingRewriter(pattern - - - - 0 1, drop, TIMEOUT $TIMEOUT);
errors :: ICMPRewriter(flows pings);
flows[0] -> out_ok :: Counter -> ip_to_outside;
flows[1] -> in_ok :: Counter -> ip_to_inside;
flows[2] -> in_denied :: Counter -> Discard;
pings[0] -> ip_to_outside;
pings[1] -> ip_to_inside;
errors[0] -> ip_to_outside;
errors[1] -> ip_to_inside;

// FROM THE INSIDE: pings to the firewall answered; TCP, UDP and pings
// remembered; anything else dropped.

c0[2] -> Strip(14) -> CheckIPHeader -> from_inside :: IPClassifier(
    dst host $CLIENT_IP and icmp type echo,    // 0: ping to the firewall
    dst host $CLIENT_IP,                       // 1: anything else for it
    tcp or udp,                                // 2: a flow, new or known
    icmp type echo,                            // 3: a ping outward
    icmp,                                      // 4: ICMP errors about flows
    -);
from_inside[0] -> ICMPPingResponder -> ip_to_inside;
from_inside[1] -> Discard;
from_inside[2] -> [0]flows;
from_inside[3] -> [0]pings;
from_inside[4] -> errors;
from_inside[5] -> out_denied :: Counter -> Discard;

// FROM THE OUTSIDE: only known flows, ping replies and errors about them.

c1[2] -> Strip(14) -> CheckIPHeader -> from_outside :: IPClassifier(
    dst host $SERVER_IP and icmp type echo,    // 0: ping to the firewall
    dst host $SERVER_IP,                       // 1: anything else for it
    tcp or udp,                                // 2: a known flow's packet?
    icmp type echo-reply,                      // 3: a ping's reply?
    icmp,                                      // 4: an error about a flow?
    -);
from_outside[0] -> ICMPPingResponder -> ip_to_outside;
from_outside[1] -> Discard;
from_outside[2] -> [1]flows;
from_outside[3] -> [1]pings;
from_outside[4] -> errors;
from_outside[5] -> Discard;
