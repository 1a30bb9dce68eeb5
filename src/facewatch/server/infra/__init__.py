"""The server's infrastructure, under the domain services: the runtime that holds one
process's resources (database, blob store, models, gallery), the analysis worker pool, the
change feed and gallery sync between replicas, the scheduler of jobs on one replica, and
the coordinator that starts them. It imports no router, page or command (pyproject.toml's
import contracts)."""
