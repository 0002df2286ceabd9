// tcp-load-balancer.click -- spreads TCP connections to a virtual address over backends
//
// Clients on the client side connect to a virtual service, VIP:VIP_PORT.
// Each new connection is given to the next of two backend servers on the
// server side, in turn (RoundRobinIPMapper), and an IPRewriter rewrites
// its destination to that backend; the backend's replies are rewritten
// back so that they come from VIP:VIP_PORT. The client addresses are left
// as they are, so the backends see the real clients and must route their
// replies through the balancer (the balancer is their gateway). The
// balancer answers ARP for its own addresses and for VIP, decrements
// TTLs and answers pings to its addresses and to VIP.
//
// Parameters (NAME=value; clickpy lab passes the device and address ones):
//   CLIENT_DEV, CLIENT_IP, CLIENT_NET, CLIENT_MAC   the client-side interface
//   SERVER_DEV, SERVER_IP, SERVER_NET, SERVER_MAC   the backend-side interface
//   VIP, VIP_PORT            the service's address and port   (10.0.1.10, 80)
//   BACKEND1, BACKEND2       the backends' addresses   (10.0.2.2, 10.0.2.3)
//   BACKEND_PORT             the backends' port                 (8000)
//   TIMEOUT                  seconds an idle connection lives   (3600)
//
// Handlers: lb.nmappings (connections held), lb.tcp_table (which client
// went to which backend), lb.mapping_failures.
//
// Try it (clickpy lab gives the server side two addresses, 10.0.2.2 and
// 10.0.2.3, one for each backend):
//   sudo clickpy lab up configs/tcp-load-balancer.click
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.2 &
//   sudo clickpy lab exec server python3 -m http.server 8000 --bind 10.0.2.3 &
//   for i in 1 2 3 4; do sudo clickpy lab exec client curl -s http://10.0.1.10/ >/dev/null; done
//        (the two servers' logs show two requests each)
//   sudo clickpy lab read lb.tcp_table
//   sudo clickpy lab down

define($CLIENT_DEV to-client, $CLIENT_IP 10.0.1.1, $CLIENT_NET 10.0.1.0/24, $CLIENT_MAC 02:00:0a:00:01:01,
       $SERVER_DEV to-server, $SERVER_IP 10.0.2.1, $SERVER_NET 10.0.2.0/24, $SERVER_MAC 02:00:0a:00:02:01,
       $VIP 10.0.1.10, $VIP_PORT 80,
       $BACKEND1 10.0.2.2, $BACKEND2 10.0.2.3, $BACKEND_PORT 8000,
       $TIMEOUT 3600);

// INTERFACES AND ARP. Classifier outputs: ARP query, ARP reply, IP, other.

c0 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
c1 :: Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);
FromDevice($CLIENT_DEV, SNIFFER false, PROMISC true) -> c0;
FromDevice($SERVER_DEV, SNIFFER false, PROMISC true) -> c1;
to_clients :: Queue(1024) -> ToDevice($CLIENT_DEV);
to_backends :: Queue(1024) -> ToDevice($SERVER_DEV);

c0[0] -> ARPResponder($CLIENT_IP $VIP $CLIENT_MAC) -> to_clients;
c1[0] -> ARPResponder($SERVER_IP $SERVER_MAC) -> to_backends;
arpq0 :: ARPQuerier($CLIENT_IP, $CLIENT_MAC) -> to_clients;
arpq1 :: ARPQuerier($SERVER_IP, $SERVER_MAC) -> to_backends;
c0[1] -> [1]arpq0;
c1[1] -> [1]arpq1;
c0[3] -> Discard;
c1[3] -> Discard;

ip_to_backends :: RadixIPLookup($SERVER_NET 0) -> dt1 :: DecIPTTL -> [0]arpq1;
ip_to_clients :: RadixIPLookup($CLIENT_NET 0) -> dt0 :: DecIPTTL -> [0]arpq0;
dt1[1] -> Discard;
dt0[1] -> Discard;

// THE BALANCER. Input 0: new and known connections to the service; input
// 1: the backends' replies (known connections only). Output 0 leads to the
// backends, output 1 back to the clients.

rr :: RoundRobinIPMapper(- - $BACKEND1 $BACKEND_PORT 0 1,
                         - - $BACKEND2 $BACKEND_PORT 0 1);
lb :: IPRewriter(rr, drop, TCP_TIMEOUT $TIMEOUT, TCP_DONE_TIMEOUT 30);
lb[0] -> ip_to_backends;
lb[1] -> ip_to_clients;

c0[2] -> Strip(14) -> CheckIPHeader -> from_clients :: IPClassifier(
    dst host $VIP and tcp dst port $VIP_PORT,          // 0: the service
    (dst host $VIP or dst host $CLIENT_IP) and icmp type echo,   // 1: pings
    -);
from_clients[0] -> [0]lb;
from_clients[1] -> ICMPPingResponder -> ip_to_clients;
from_clients[2] -> Discard;

c1[2] -> Strip(14) -> CheckIPHeader -> from_backends :: IPClassifier(
    tcp src port $BACKEND_PORT,                         // 0: replies?
    dst host $SERVER_IP and icmp type echo,             // 1: pings
    -);
from_backends[0] -> [1]lb;
from_backends[1] -> ICMPPingResponder -> ip_to_backends;
from_backends[2] -> Discard;
