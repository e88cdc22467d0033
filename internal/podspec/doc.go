// Package podspec knows where objects keep their pod template: Pods, the
// pod controllers (DaemonSet, Deployment, Job, ReplicaSet,
// ReplicationController, StatefulSet) and CronJobs, which lists of a pod
// spec hold containers, and how to walk them in a decoded object
// (map[string]any) with the JSON pointer and field path of every entry.
//
// It is the one pod-spec walker: the `images` variable, Kyverno
// verifyImages, ClusterImagePolicy admission and podSecurity all locate pod
// specs and containers through it, each deciding what a malformed entry
// means for it.
package podspec
