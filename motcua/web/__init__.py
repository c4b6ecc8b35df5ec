"""The web front door: citizens' pages, officers' pages and the portal's JSON API.

A FastAPI app on the client operations of `motcua.client`, adding no rule of its own about who
may do what: the dossier workflow's update validators decide. Every process is interchangeable
behind a load balancer: sessions live in signed cookies, uploads in the shared store, and the
only per-process memory is the rate limiter's counters (see `ratelimit`).
"""
