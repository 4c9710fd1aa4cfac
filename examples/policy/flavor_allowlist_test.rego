package main

import rego.v1

created(pool, flavor) := [{
	"address": "nodepool.gpu",
	"pool": pool,
	"actions": ["create"],
	"before": null,
	"after": {"flavor": flavor, "count": 2},
}]

test_allowed_flavor_passes if {
	flavor_denies == [] with input.resource_changes as created("pool-prod", "modelarts.vm.gpu.t4u8")
}

test_flavor_not_allowed_in_its_pool_is_denied if {
	changes := created("pool-prod", "modelarts.vm.cpu.8u32g")
	expected := {
		"msg": "nodepool.gpu: flavor modelarts.vm.cpu.8u32g is not allowed in pool-prod",
		"address": "nodepool.gpu",
	}
	flavor_denies == [expected] with input.resource_changes as changes
	expected in deny with input.resource_changes as changes
}

test_pools_without_a_list_are_not_limited if {
	flavor_denies == [] with input.resource_changes as created("pool-lab", "modelarts.vm.cpu.8u32g")
}

test_existing_node_pools_are_not_checked if {
	updated := [{
		"address": "nodepool.old",
		"pool": "pool-prod",
		"actions": ["update"],
		"after": {"flavor": "modelarts.vm.cpu.8u32g", "count": 3},
	}]
	flavor_denies == [] with input.resource_changes as updated
}
