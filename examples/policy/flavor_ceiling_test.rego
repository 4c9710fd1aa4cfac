# The tests of one file check that file's own list (ceiling_denies): `deny` is shared by every
# file of package main. Input is replaced one key at a time (`with input.resource_changes as`):
# rego-cpp 1.5 crashes on `with input as {...}` when the rules call builtins (docs/policy.md).
package main

import rego.v1

a100(address, before, after) := {
	"address": address,
	"actions": ["update"],
	"before": {"flavor": "modelarts.vm.gpu.a100", "count": before},
	"after": {"flavor": "modelarts.vm.gpu.a100", "count": after},
}

test_fleet_under_the_ceiling_passes if {
	changes := [a100("nodepool.a", 30, 32), a100("nodepool.b", 30, 32)]
	ceiling_denies == [] with input.resource_changes as changes
}

test_raising_a_flavor_above_its_ceiling_is_denied if {
	changes := [a100("nodepool.a", 30, 40), a100("nodepool.b", 30, 30)]
	expected := {
		"msg": "flavor modelarts.vm.gpu.a100: 70 nodes after this plan, above its ceiling of 64",
		"address": null,
	}
	ceiling_denies == [expected] with input.resource_changes as changes
	expected in deny with input.resource_changes as changes
}

test_a_fleet_already_above_that_does_not_grow_passes if {
	changes := [a100("nodepool.a", 40, 40), a100("nodepool.b", 40, 38)]
	ceiling_denies == [] with input.resource_changes as changes
}

test_deleted_node_pools_do_not_count if {
	deleted := {
		"address": "nodepool.b",
		"actions": ["delete"],
		"before": {"flavor": "modelarts.vm.gpu.a100", "count": 30},
		"after": null,
	}
	ceiling_denies == [] with input.resource_changes as [a100("nodepool.a", 10, 60), deleted]
}
