// ip-router.click -- an IPv4 router between two Ethernet interfaces
//
// A two-interface router in the shape of Click's make-ip-conf.pl routers:
// it answers ARP for its own address on each side, finds next hops with
// ARPQuerier, looks destinations up in a RadixIPLookup table, and on the
// forwarding path drops link-level broadcasts, processes IP options, fixes
// the source of its own ICMP errors, decrements the TTL and fragments to
// the MTU. Packets whose TTL runs out get an ICMP time exceeded back (as
// traceroute expects); packets too big with DF set get "fragmentation
// needed"; bad IP options get a parameter problem. Pings to the router's
// own addresses are answered; anything else addressed to it is dropped.
// The host stack of the machine running it does not see the frames.
//
// Parameters (NAME=value; clickpy lab passes them all):
//   CLIENT_DEV, SERVER_DEV    the two interfaces         (to-client, to-server)
//   CLIENT_IP,  SERVER_IP     the router's address on each (10.0.1.1, 10.0.2.1)
//   CLIENT_NET, SERVER_NET    the network on each side    (10.0.1.0/24, 10.0.2.0/24)
//   CLIENT_MAC, SERVER_MAC    the interfaces' Ethernet addresses
//   MTU                       fragment above this size    (1500)
//
// Try it:
//   sudo clickpy lab up configs/ip-router.click
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.2 &
//   sudo clickpy lab exec client curl -s http://10.0.2.2:8000/ | head -3
//   sudo clickpy lab exec client traceroute -n 10.0.2.2   (if installed: 10.0.1.1, then 10.0.2.2)
//   sudo clickpy lab read dt1.drops     (TTL expiries toward the server)
//   sudo clickpy lab down
// Or on real interfaces: sudo clickpy deploy configs/ip-router.click CLIENT_DEV=eth1 ...

define($CLIENT_DEV to-client, $SERVER_DEV to-server,
       $CLIENT_IP 10.0.1.1, $CLIENT_NET 10.0.1.0/24, $CLIENT_MAC 02:00:0a:00:01:01,
       $SERVER_IP 10.0.2.1, $SERVER_NET 10.0.2.0/24, $SERVER_MAC 02:00:0a:00:02:01,
       $MTU 1500);

// Routing table: port 0 is the router itself, port 1 the client side,
// port 2 the server side.
rt :: RadixIPLookup($CLIENT_IP/32 0, $SERVER_IP/32 0,
                    $CLIENT_NET 1, $SERVER_NET 2);

// Interfaces: classify ARP queries, ARP replies, IP, and the rest.
c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
FromDevice($CLIENT_DEV, SNIFFER false, PROMISC true) -> c0;
FromDevice($SERVER_DEV, SNIFFER false, PROMISC true) -> c1;
out0 :: Queue(1024) -> ToDevice($CLIENT_DEV);
out1 :: Queue(1024) -> ToDevice($SERVER_DEV);

c0[0] -> ARPResponder($CLIENT_IP $CLIENT_MAC) -> out0;
c1[0] -> ARPResponder($SERVER_IP $SERVER_MAC) -> out1;
arpq0 :: ARPQuerier($CLIENT_IP, $CLIENT_MAC) -> out0;
arpq1 :: ARPQuerier($SERVER_IP, $SERVER_MAC) -> out1;
c0[1] -> [1]arpq0;
c1[1] -> [1]arpq1;
c0[3] -> Discard;
c1[3] -> Discard;

// Shared IP input path; the paint says which interface a packet came in on.
c0[2] -> Paint(1) -> ip :: Strip(14);
c1[2] -> Paint(2) -> ip;
ip -> CheckIPHeader(INTERFACES $CLIENT_IP/24 $SERVER_IP/24) -> [0]rt;

// Local delivery: answer pings, drop the rest.
rt[0] -> local :: IPClassifier(icmp type echo, -);
local[0] -> ICMPPingResponder -> rt;
local[1] -> Discard;

// Forwarding path toward the client side.
rt[1] -> DropBroadcasts
      -> gio0 :: IPGWOptions($CLIENT_IP)
      -> FixIPSrc($CLIENT_IP)
      -> dt0 :: DecIPTTL
      -> fr0 :: IPFragmenter($MTU)
      -> [0]arpq0;
dt0[1] -> ICMPError($CLIENT_IP, timeexceeded) -> rt;
fr0[1] -> ICMPError($CLIENT_IP, unreachable, needfrag) -> rt;
gio0[1] -> ICMPError($CLIENT_IP, parameterproblem) -> rt;

// Forwarding path toward the server side.
rt[2] -> DropBroadcasts
      -> gio1 :: IPGWOptions($SERVER_IP)
      -> FixIPSrc($SERVER_IP)
      -> dt1 :: DecIPTTL
      -> fr1 :: IPFragmenter($MTU)
      -> [0]arpq1;
dt1[1] -> ICMPError($SERVER_IP, timeexceeded) -> rt;
fr1[1] -> ICMPError($SERVER_IP, unreachable, needfrag) -> rt;
gio1[1] -> ICMPError($SERVER_IP, parameterproblem) -> rt;
