//! One reconcile pass over the EC2 port, without Kubernetes: observe → plan → act → report.
