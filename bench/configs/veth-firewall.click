// veth-firewall.click -- the veth benchmark's firewall (bench/firewall_nat_vs_kernel.py)
//
// A stateless IPv4 forwarding firewall between two devices: frames from
// DEV_IN are checked, filtered by 20 mixed rules (the same rules the
// benchmark gives nftables, in the same order, default deny), their TTL
// decremented as a router would, re-addressed for the next hop and sent
// out DEV_OUT.
//
//   clickpy run bench/configs/veth-firewall.click DEV_IN=g1 DEV_OUT=s1 \
//       SRC_MAC=<s1's MAC> DST_MAC=<next hop's MAC> METHOD=AFXDP

define($DEV_IN g1, $DEV_OUT s1, $METHOD AUTO, $BURST 32, $QUEUE 1024,
       $SRC_MAC 02:00:00:00:00:01, $DST_MAC 02:00:00:00:00:99);

from :: FromDevice($DEV_IN, SNIFFER false, PROMISC true, METHOD $METHOD, BURST $BURST);
to :: ToDevice($DEV_OUT, METHOD $METHOD, BURST $BURST);

from -> cls :: Classifier(12/0800, -)
     -> Strip(14)
     -> CheckIPHeader
     -> fw :: IPFilter(deny src net 192.168.0.0/16,
                       deny src net 172.16.0.0/12,
                       deny dst host 10.2.0.99,
                       deny tcp && dst port 23,
                       deny tcp && dst port 25,
                       deny udp && dst port 53,
                       deny udp && dst port 161,
                       deny udp && dst port 1900,
                       deny ip proto 47,
                       deny icmp && icmp type 5,
                       deny src host 10.1.0.77,
                       deny src net 10.1.200.0/24 && udp,
                       deny dst net 10.2.128.0/17,
                       allow tcp && dst port 80,
                       allow tcp && dst port 443,
                       allow tcp && dst port 22 && src net 10.1.0.0/16,
                       allow icmp && icmp type echo,
                       allow udp && dst port 4000,
                       allow src net 10.1.0.0/16 && udp && dst port 5000,
                       deny all)
     -> DecIPTTL
     -> EtherEncap(0x0800, $SRC_MAC, $DST_MAC)
     -> q :: Queue($QUEUE)
     -> to;
cls[1] -> Discard;
