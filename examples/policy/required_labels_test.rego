package main

import rego.v1

labelled(actions, labels) := [{
	"address": "nodepool.train",
	"actions": actions,
	"after": {"flavor": "modelarts.vm.gpu.t4u8", "count": 2, "labels": labels},
}]

test_node_pool_with_both_labels_passes if {
	changes := labelled(["create"], {"team": "ml", "cost_center": "42"})
	label_denies == [] with input.resource_changes as changes
	label_warnings == [] with input.resource_changes as changes
}

test_changed_node_pool_missing_a_label_is_denied if {
	changes := labelled(["update"], {"team": "ml"})
	expected := {"msg": "nodepool.train: missing required labels: cost_center", "address": "nodepool.train"}
	label_denies == [expected] with input.resource_changes as changes
	expected in deny with input.resource_changes as changes
}

test_new_node_pool_without_labels_names_both if {
	changes := [{
		"address": "nodepool.train",
		"actions": ["create"],
		"after": {"flavor": "modelarts.vm.gpu.t4u8", "count": 2},
	}]
	got := label_denies with input.resource_changes as changes
	count(got) == 1
	d := got[0]
	d.msg == "nodepool.train: missing required labels: cost_center, team"
}

test_untouched_node_pool_only_warns if {
	changes := labelled(["no-op"], {"team": "ml"})
	label_denies == [] with input.resource_changes as changes
	count(label_warnings) == 1 with input.resource_changes as changes
	some w in warn with input.resource_changes as changes
	w.address == "nodepool.train"
}

test_deleted_node_pool_is_not_checked if {
	changes := [{"address": "nodepool.old", "actions": ["delete"], "after": null}]
	label_denies == [] with input.resource_changes as changes
}
