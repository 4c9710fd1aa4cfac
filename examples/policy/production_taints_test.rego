package main

import rego.v1

tainted(effect) := [{
	"address": "nodepool.infer",
	"actions": ["update"],
	"after": {"taints": [{"key": "dedicated", "value": "gpu", "effect": effect}]},
}]

test_no_execute_in_production_is_denied if {
	expected := {
		"msg": "nodepool.infer: taint dedicated has effect NoExecute, which production does not allow",
		"address": "nodepool.infer",
	}
	taint_denies == [expected] with input.resource_changes as tainted("NoExecute")
		with input.workspace as "production"
	expected in deny with input.resource_changes as tainted("NoExecute")
		with input.workspace as "production"
}

test_no_schedule_in_production_passes if {
	taint_denies == [] with input.resource_changes as tainted("NoSchedule")
		with input.workspace as "production"
}

test_no_execute_elsewhere_passes if {
	taint_denies == [] with input.resource_changes as tainted("NoExecute") with input.workspace as "staging"
	taint_warnings == [] with input.resource_changes as tainted("NoExecute") with input.workspace as "staging"
}

test_without_a_workspace_it_warns if {
	taint_denies == [] with input.resource_changes as tainted("NoExecute")
	got := taint_warnings with input.resource_changes as tainted("NoExecute")
	count(got) == 1
	w := got[0]
	endswith(w.msg, "(workspace unknown: not run by np)")
}
