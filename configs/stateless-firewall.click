// stateless-firewall.click -- a routed firewall with fixed rules (IPFilter)
//
// Sits on the routed path between an inside network (the client side) and
// an outside one (the server side), as their gateway: it answers ARP for
// its address on each side, finds next hops with ARPQuerier, decrements
// TTLs (ICMP time exceeded when they run out) and answers pings to itself.
// Every packet that crosses is checked against an ordered rule list, one
// IPFilter per direction; the first rule that matches decides, and what no
// rule allows is counted and dropped.
//
// The rules are stateless: each packet is judged alone. Outbound, the
// inside may open TCP connections to ports 22, 443 and WEB_PORT, send DNS
// queries and pings. Inbound, only what looks like the other half of
// those passes: TCP segments from those ports with ACK set (a SYN without
// ACK, the start of a connection, never does), DNS answers, ping replies
// and ICMP errors. See stateful-firewall.click for a firewall that
// remembers which connections the inside opened.
//
// Parameters (NAME=value; clickpy lab passes the device and address ones):
//   CLIENT_DEV, CLIENT_IP, CLIENT_NET, CLIENT_MAC   the inside interface
//   SERVER_DEV, SERVER_IP, SERVER_NET, SERVER_MAC   the outside interface
//   GATEWAY    the outside next hop beyond SERVER_NET (10.0.2.254)
//   WEB_PORT   a TCP port open outward besides 22 and 443 (8000)
//
// Handlers: out_denied.count, in_denied.count (packets refused each way),
// out_ok.count, in_ok.count (packets passed).
//
// Try it:
//   sudo clickpy lab up configs/stateless-firewall.click
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.2 &
//   sudo clickpy lab exec server python3 -m http.server 8080 --bind 10.0.2.2 &
//   sudo clickpy lab exec client curl -s -m 3 http://10.0.2.2:8000/ | head -3   (allowed)
//   sudo clickpy lab exec client curl -s -m 3 http://10.0.2.2:8080/            (times out)
//   sudo clickpy lab read out_denied.count
//   sudo clickpy lab down

define($CLIENT_DEV to-client, $CLIENT_IP 10.0.1.1, $CLIENT_NET 10.0.1.0/24, $CLIENT_MAC 02:00:0a:00:01:01,
       $SERVER_DEV to-server, $SERVER_IP 10.0.2.1, $SERVER_NET 10.0.2.0/24, $SERVER_MAC 02:00:0a:00:02:01,
       $GATEWAY 10.0.2.254, $WEB_PORT 8000);

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

// THE FIREWALL'S OWN ADDRESSES: answer pings, drop the rest.

c0[2] -> Strip(14) -> CheckIPHeader -> for_me0 :: IPClassifier(dst host $CLIENT_IP, -);
c1[2] -> Strip(14) -> CheckIPHeader -> for_me1 :: IPClassifier(dst host $SERVER_IP, -);
for_me0[0] -> IPClassifier(icmp type echo) -> ICMPPingResponder -> ip_to_inside;
for_me1[0] -> IPClassifier(icmp type echo) -> ICMPPingResponder -> ip_to_outside;

// THE RULES.

for_me0[1] -> outbound :: IPFilter(
    allow tcp && (dst port 22 or 443 or $WEB_PORT),
    allow udp && dst port 53,
    allow icmp type echo,
    1 all);
outbound[0] -> out_ok :: Counter -> ip_to_outside;
outbound[1] -> out_denied :: Counter -> Discard;

for_me1[1] -> inbound :: IPFilter(
    allow dst net $CLIENT_NET && tcp && (src port 22 or 443 or $WEB_PORT) && tcp opt ack,
    allow dst net $CLIENT_NET && udp && src port 53,
    allow dst net $CLIENT_NET && icmp type echo-reply,
    allow dst net $CLIENT_NET && (icmp type unreachable or icmp type timeexceeded
                                  or icmp type parameterproblem),
    1 all);
inbound[0] -> in_ok :: Counter -> ip_to_inside;
inbound[1] -> in_denied :: Counter -> Discard;
