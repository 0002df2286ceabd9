// bridge.click -- a two-port layer-2 bridge between two network devices
//
// Every Ethernet frame that arrives on one device leaves, unchanged, on
// the other: a transparent bridge (with two ports there is nothing to
// learn, so it forwards everything, as a cable would). The host stack of
// the machine running it does not see the frames (SNIFFER false), and
// the devices are promiscuous so that frames for any address pass.
//
// Run it between two interfaces, for example the ends of two veth pairs:
//
//   clickpy run configs/bridge.click DEV0=veth0 DEV1=veth1
//   clickpy run configs/bridge.click DEV0=veth0 DEV1=veth1 METHOD=AFPACKET
//
// METHOD is AFXDP, AFPACKET or AUTO (AF_XDP where it works, else
// AF_PACKET). BURST is the batch size, QUEUE the length of the queue in
// each direction. Read c01.count and c10.count for the frames forwarded
// each way (clickpy run ... -h c01.count -h c10.count), from0.method for
// the method in use, to1.drops for frames that could not be sent (b1 was
// down: the bridge keeps running, drops what it cannot send, and resumes
// when the device is up again).

define($DEV0 veth0, $DEV1 veth1, $METHOD AUTO, $BURST 32, $QUEUE 1024);

from0 :: FromDevice($DEV0, SNIFFER false, PROMISC true, METHOD $METHOD, BURST $BURST);
from1 :: FromDevice($DEV1, SNIFFER false, PROMISC true, METHOD $METHOD, BURST $BURST);
to0 :: ToDevice($DEV0, METHOD $METHOD, BURST $BURST);
to1 :: ToDevice($DEV1, METHOD $METHOD, BURST $BURST);

from0 -> c01 :: Counter -> q01 :: Queue($QUEUE) -> to1;
from1 -> c10 :: Counter -> q10 :: Queue($QUEUE) -> to0;
