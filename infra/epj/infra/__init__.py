"""epj render — the Kubernetes objects the Pulumi program creates."""
