// firewall.click -- a stateless IPv4 firewall over a packet trace.
//
// Reads Ethernet frames from a pcap file, lets ARP through, checks IPv4
// headers, and filters IP traffic with an ordered rule list: the first rule
// that matches decides. Accepted frames are written to another pcap file;
// each drop reason has its own counter, readable as a handler
// (for example 'clickpy run firewall.click -h drop_*.count').
//
// Parameters (override with NAME=value on the command line):
//   IN     the pcap file to read            (default in.pcap)
//   OUT    where accepted frames go         (default accepted.pcap)
//   LAN    the protected network            (default 10.0.0.0/8)

define($IN in.pcap, $OUT accepted.pcap, $LAN 10.0.0.0/8)

// A named, counted exit for each kind of refused packet.
elementclass Drop { input -> Counter -> Discard }

src :: FromDump($IN, STOP true);
out :: ToDump($OUT);

frames :: Classifier(12/0806,    // ARP
                     12/0800,    // IPv4
                     -);         // anything else

src -> frames;
frames [0] -> out;
frames [2] -> drop_other :: Drop;

frames [1]
    -> Strip(14)
    -> ip :: CheckIPHeader
    -> rules :: IPFilter(allow src net $LAN,                 // outbound
                         allow tcp && src port 80 or 443,      // web replies
                         allow udp && src port 53,             // DNS replies
                         allow icmp type echo-reply,
                         deny all)
    -> Unstrip(14)
    -> out;

ip [1] -> drop_bad_header :: Drop;
rules [1] -> drop_by_rule :: Drop;
