"""The Store protocol's own tests, run against HTTPStore over a live data API."""

from __future__ import annotations

from tests.store.test_store_interface import (  # noqa: F401 (collected by pytest)
    test_a_boefje_jobs_raws_and_their_jobs_are_stored_with_its_end_and_only_then,
    test_a_boefje_run_again_supersedes_the_normalizer_jobs_its_last_run_left_unbegun,
    test_a_job_is_recorded_once_and_reads_back_typed,
    test_a_scan_claims_each_pair_once_and_counts_its_jobs,
    test_an_ended_job_cannot_begin_or_end_again,
    test_an_interrupted_run_is_counted,
    test_jobs_are_added_together,
    test_jobs_list_filter_count_and_page,
    test_objects_are_stored_with_the_end_of_their_job_and_only_then,
    test_objects_of_a_job_replace_an_earlier_attempt,
    test_raws_keep_their_order_bytes_and_mime_types,
    test_raws_with_their_ids_are_stored_with_the_jobs_that_read_them,
    test_workers_say_they_are_alive,
)
