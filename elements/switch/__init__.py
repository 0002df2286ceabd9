"""The software switch's own data path: GuestSwitch, which starts guests per tenant or per flow."""
