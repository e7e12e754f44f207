"""The environment file: the shipped one is valid, every kind of mistake gets one clear line."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from config.model import ConfigError, DeliveryConfig, known_regions, load_config
from config.paths import ROOT

Raw = dict[str, Any]
_GITHUB_PROVIDER = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"


def _env(raw: Raw, name: str) -> Raw:
    return next(env for env in raw["environments"] if env["name"] == name)


def _write(tmp_path: Path, document: Raw) -> Path:
    path = tmp_path / "environments.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_shipped_file_is_valid_and_describes_three_environments(config: DeliveryConfig) -> None:
    assert [env.name for env in config.environments] == ["dev", "staging", "prod"]
    assert config.cross_account
    assert [env.approval_required for env in config.environments] == [False, True, True]
    assert config.environment("dev").network.nat_gateways == 1
    assert (
        config.environment("prod").network.nat_gateways
        == config.environment("prod").network.max_azs
    )
    assert [env.waf.enabled for env in config.environments] == [False, True, True]
    # No certificates ship: the placeholders must synthesize with CloudFront's default one.
    assert all(env.frontend.certificate_arn is None for env in config.environments)
    assert all(env.budget.monthly_limit_usd > 0 for env in config.environments)
    dev, prod = config.environment("dev"), config.environment("prod")
    assert dev.database.min_acu == 0 and not dev.database.reader
    assert dev.services["api"].spot and dev.services["worker"].spot
    assert prod.database.min_acu >= 0.5 and prod.database.reader
    assert prod.database.backup_retention_days == 30
    assert dev.database.backup_retention_days == 7
    assert prod.services["api"].min_tasks >= 2 and not prod.services["api"].spot
    assert list(config.services) == ["api", "worker"]
    assert config.http_service[0] == "api"
    assert set(config.consumers) == {"worker"}


def test_tracing_keeps_every_trace_before_prod_and_a_tenth_in_it(config: DeliveryConfig) -> None:
    ratios = {env.name: env.tracing.sample_ratio for env in config.environments}
    assert ratios == {"dev": 1.0, "staging": 1.0, "prod": 0.1}


def test_an_environment_without_tracing_keeps_a_tenth_of_its_traces(
    raw_config: Raw, tmp_path: Path
) -> None:
    document = copy.deepcopy(raw_config)
    del _env(document, "dev")["tracing"]
    _env(document, "staging")["tracing"]["sample_ratio"] = 1  # an integer is a ratio too
    config = load_config(_write(tmp_path, document))
    assert config.environment("dev").tracing.sample_ratio == 0.1
    assert config.environment("staging").tracing.sample_ratio == 1.0


def test_known_regions_are_the_regions_a_boto3_session_lists() -> None:
    """Read from botocore's data file, they are what boto3 itself answers, per partition."""
    import boto3  # noqa: PLC0415 - the reference the file reading must match

    session = boto3.session.Session()
    listed = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    assert known_regions() == listed
    assert {"eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"} <= listed


def test_cross_account_is_false_when_every_environment_shares_the_pipeline_account(
    raw_config: Raw, tmp_path: Path
) -> None:
    document = copy.deepcopy(raw_config)
    for env in document["environments"]:
        env["account"] = document["pipeline"]["account"]
    assert not load_config(_write(tmp_path, document)).cross_account


def test_github_section_is_optional_and_names_the_drift_role_after_the_project(
    config: DeliveryConfig,
) -> None:
    assert config.pipeline.github.oidc_provider_arn is None
    assert config.drift_role_name == f"{config.project.name}-github-drift"


def test_github_section_imports_a_provider_and_renames_the_drift_role(
    raw_config: Raw, tmp_path: Path
) -> None:
    document = copy.deepcopy(raw_config)
    document["pipeline"]["github"] = {
        "oidc_provider_arn": _GITHUB_PROVIDER,
        "drift_role_name": "platform-drift",
    }
    config = load_config(_write(tmp_path, document))
    assert config.pipeline.github.oidc_provider_arn == _GITHUB_PROVIDER
    assert config.drift_role_name == "platform-drift"


def _remove_staging_region(raw: Raw) -> None:
    del _env(raw, "staging")["region"]


def _short_dev_account(raw: Raw) -> None:
    _env(raw, "dev")["account"] = "2222"


def _unknown_prod_region(raw: Raw) -> None:
    _env(raw, "prod")["region"] = "eu-west-9"


def _duplicate_name(raw: Raw) -> None:
    _env(raw, "staging")["name"] = "dev"


def _nat_as_string(raw: Raw) -> None:
    _env(raw, "dev")["network"]["nat_gateways"] = "1"


def _unknown_key(raw: Raw) -> None:
    _env(raw, "dev")["colour"] = "blue"


def _more_nat_than_azs(raw: Raw) -> None:
    _env(raw, "staging")["network"]["nat_gateways"] = 3


def _public_cidr(raw: Raw) -> None:
    _env(raw, "prod")["network"]["cidr"] = "8.8.0.0/16"


def _bad_pipeline_account(raw: Raw) -> None:
    raw["pipeline"]["account"] = "abc"


def _bad_connection_arn(raw: Raw) -> None:
    raw["pipeline"]["source"]["connection_arn"] = "arn:aws:s3:::bucket"


def _provider_of_another_issuer(raw: Raw) -> None:
    raw["pipeline"]["github"] = {
        "oidc_provider_arn": "arn:aws:iam::111111111111:oidc-provider/accounts.google.com"
    }


def _provider_in_another_account(raw: Raw) -> None:
    raw["pipeline"]["github"] = {
        "oidc_provider_arn": _GITHUB_PROVIDER.replace("111111111111", "999999999999")
    }


def _drift_role_name_with_space(raw: Raw) -> None:
    raw["pipeline"]["github"] = {"drift_role_name": "github drift"}


def _unknown_github_key(raw: Raw) -> None:
    raw["pipeline"]["github"] = {"subject": "repo:*"}


def _wildcard_branch(raw: Raw) -> None:
    raw["pipeline"]["source"]["branch"] = "release/*"


def _no_environments(raw: Raw) -> None:
    raw["environments"] = []


def _bad_notification_email(raw: Raw) -> None:
    raw["pipeline"]["notification_emails"] = ["ops.example.com"]


def _unknown_severity(raw: Raw) -> None:
    raw["pipeline"]["image_scan_fail_on"] = "SEVERE"


def _negative_bake(raw: Raw) -> None:
    _env(raw, "prod")["bake_minutes"] = -5


def _canary_without_steps(raw: Raw) -> None:
    _env(raw, "prod")["traffic_shift"] = {"strategy": "canary", "bake_minutes": 30}


def _linear_step_below_ecs_minimum(raw: Raw) -> None:
    _env(raw, "prod")["traffic_shift"] = {
        "strategy": "linear",
        "step_percent": 2,
        "step_minutes": 5,
        "bake_minutes": 30,
    }


def _blue_green_with_steps(raw: Raw) -> None:
    _env(raw, "dev")["traffic_shift"] = {
        "strategy": "blue_green",
        "step_percent": 10,
        "bake_minutes": 2,
    }


def _unknown_strategy(raw: Raw) -> None:
    _env(raw, "staging")["traffic_shift"]["strategy"] = "rolling"


def _bad_retention(raw: Raw) -> None:
    _env(raw, "dev")["network"]["flow_log_retention_days"] = 31


_EU_CERTIFICATE = (
    "arn:aws:acm:eu-west-1:444444444444:certificate/00000000-0000-4000-8000-000000000000"
)


def _certificate_outside_us_east_1(raw: Raw) -> None:
    _env(raw, "prod")["frontend"]["certificate_arn"] = _EU_CERTIFICATE


def _certificate_not_an_arn(raw: Raw) -> None:
    _env(raw, "prod")["frontend"]["certificate_arn"] = "my-certificate"


def _domain_without_certificate(raw: Raw) -> None:
    _env(raw, "staging")["frontend"]["domain_names"] = ["app.example.com"]


def _bad_domain_name(raw: Raw) -> None:
    frontend = _env(raw, "prod")["frontend"]
    frontend["certificate_arn"] = _EU_CERTIFICATE.replace("eu-west-1", "us-east-1")
    frontend["domain_names"] = ["App_Example"]


def _unknown_price_class(raw: Raw) -> None:
    _env(raw, "dev")["frontend"]["price_class"] = "PriceClass_50"


def _zero_log_retention(raw: Raw) -> None:
    _env(raw, "dev")["frontend"]["log_retention_days"] = 0


def _waf_rate_limit_too_low(raw: Raw) -> None:
    _env(raw, "staging")["waf"]["rate_limit"] = 99


def _waf_rate_limit_too_high(raw: Raw) -> None:
    _env(raw, "prod")["waf"]["rate_limit"] = 20_000_001


def _waf_enabled_as_string(raw: Raw) -> None:
    _env(raw, "dev")["waf"]["enabled"] = "no"


def _bad_alert_email(raw: Raw) -> None:
    _env(raw, "prod")["budget"]["alert_emails"] = ["platform-team.example.com"]


def _no_alert_email(raw: Raw) -> None:
    _env(raw, "dev")["budget"]["alert_emails"] = []


def _zero_budget(raw: Raw) -> None:
    _env(raw, "staging")["budget"]["monthly_limit_usd"] = 0


def _threshold_out_of_range(raw: Raw) -> None:
    _env(raw, "dev")["budget"]["thresholds"] = [0]


def _repeated_threshold(raw: Raw) -> None:
    _env(raw, "prod")["budget"]["thresholds"] = [80, 80]


def _missing_budget(raw: Raw) -> None:
    del _env(raw, "staging")["budget"]


def _fargate_pair_rejected(raw: Raw) -> None:
    _env(raw, "staging")["services"]["api"]["memory"] = 512  # cpu 512 needs 1024..4096


def _fargate_cpu_unknown(raw: Raw) -> None:
    _env(raw, "dev")["services"]["worker"]["cpu"] = 300


def _min_tasks_above_max(raw: Raw) -> None:
    _env(raw, "prod")["services"]["api"]["min_tasks"] = 20


def _acu_out_of_bounds(raw: Raw) -> None:
    _env(raw, "prod")["database"]["max_acu"] = 300


def _acu_not_half_step(raw: Raw) -> None:
    _env(raw, "dev")["database"]["max_acu"] = 1.3


def _min_acu_above_max(raw: Raw) -> None:
    _env(raw, "staging")["database"]["min_acu"] = 8


def _prod_pauses(raw: Raw) -> None:
    _env(raw, "prod")["database"]["min_acu"] = 0


def _backup_retention_too_long(raw: Raw) -> None:
    _env(raw, "prod")["database"]["backup_retention_days"] = 36


def _bad_email(raw: Raw) -> None:
    _env(raw, "prod")["alarms"]["emails"] = ["oncall.example.com"]


def _retired_alb_section(raw: Raw) -> None:
    _env(raw, "prod")["alb"] = {"origin_domain": "api-origin.example.com"}


def _receive_count_too_high(raw: Raw) -> None:
    _env(raw, "dev")["queue"]["max_receive_count"] = 10


def _unsized_service(raw: Raw) -> None:
    del _env(raw, "staging")["services"]["worker"]


def _size_of_an_unknown_service(raw: Raw) -> None:
    _env(raw, "prod")["services"]["mailer"] = dict(_env(raw, "prod")["services"]["worker"])


def _retired_api_section(raw: Raw) -> None:
    _env(raw, "dev")["api"] = _env(raw, "dev")["services"]["api"]


def _second_http_service(raw: Raw) -> None:
    raw["services"]["admin"] = dict(raw["services"]["api"])
    for env in raw["environments"]:
        env["services"]["admin"] = env["services"]["api"]


def _consumer_without_publisher(raw: Raw) -> None:
    raw["services"]["api"]["publishes_events"] = False


def _consumer_of_nothing(raw: Raw) -> None:
    raw["services"]["worker"]["consumes"] = []


def _malformed_event_type(raw: Raw) -> None:
    raw["services"]["worker"]["consumes"] = ["TodoCreated"]


def _unknown_service_kind(raw: Raw) -> None:
    raw["services"]["worker"]["kind"] = "cron"


def _http_service_without_port(raw: Raw) -> None:
    del raw["services"]["api"]["port"]


def _service_name_with_hyphen(raw: Raw) -> None:
    raw["services"]["api-v2"] = raw["services"].pop("api")


def _reserved_service_name(raw: Raw) -> None:
    raw["services"]["alb"] = raw["services"].pop("worker")
    for env in raw["environments"]:
        env["services"]["alb"] = env["services"].pop("worker")


def _unknown_key_in_a_service(raw: Raw) -> None:
    raw["services"]["worker"]["alb"] = 1


def _log_retention_not_accepted(raw: Raw) -> None:
    _env(raw, "staging")["log_retention_days"] = 10


def _no_nat(raw: Raw) -> None:
    _env(raw, "dev")["network"]["nat_gateways"] = 0


def _sample_ratio_above_one(raw: Raw) -> None:
    _env(raw, "prod")["tracing"]["sample_ratio"] = 1.5


def _sample_ratio_as_string(raw: Raw) -> None:
    _env(raw, "staging")["tracing"]["sample_ratio"] = "0.5"


def _sample_ratio_not_a_number(raw: Raw) -> None:
    _env(raw, "dev")["tracing"]["sample_ratio"] = float("nan")


def _unknown_tracing_key(raw: Raw) -> None:
    _env(raw, "dev")["tracing"]["exporter"] = "otlp"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            _remove_staging_region,
            "environment \"staging\": field 'region': required field is missing",
        ),
        (
            _short_dev_account,
            "environment \"dev\": field 'account': must be a 12-digit AWS account id, got '2222'",
        ),
        (
            _unknown_prod_region,
            "environment \"prod\": field 'region': unknown AWS region 'eu-west-9'",
        ),
        (_duplicate_name, "environment \"dev\": field 'name': duplicate environment name 'dev'"),
        (
            _nat_as_string,
            "environment \"dev\": field 'network.nat_gateways': Input should be a valid integer",
        ),
        (_unknown_key, "environment \"dev\": field 'colour': unknown key"),
        (
            _more_nat_than_azs,
            "environment \"staging\": field 'network': nat_gateways (3) cannot exceed max_azs (2)",
        ),
        (
            _public_cidr,
            "environment \"prod\": field 'network.cidr': must be a private (RFC 1918) range",
        ),
        (_bad_pipeline_account, "[pipeline]: field 'account': must be a 12-digit AWS account id"),
        (_bad_connection_arn, "[pipeline]: field 'source': connection_arn must look like"),
        (
            _provider_of_another_issuer,
            "[pipeline]: field 'github.oidc_provider_arn': must look like "
            "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com, got "
            "'arn:aws:iam::111111111111:oidc-provider/accounts.google.com'",
        ),
        (
            _provider_in_another_account,
            "[pipeline]: field 'github': oidc_provider_arn is in account 999999999999; the "
            "drift role is created in the pipeline account 111111111111",
        ),
        (
            _drift_role_name_with_space,
            "[pipeline]: field 'github.drift_role_name': String should match pattern",
        ),
        (_unknown_github_key, "[pipeline]: field 'github.subject': unknown key"),
        (
            _wildcard_branch,
            "[pipeline]: field 'source.branch': must be one git branch name (no wildcard or "
            "space), got 'release/*'",
        ),
        (_no_environments, "top level: field 'environments': List should have at least 1 item"),
        (
            _bad_notification_email,
            "[pipeline]: field 'notification_emails.0': must be an email address, got 'ops.exa",
        ),
        (_unknown_severity, "[pipeline]: field 'image_scan_fail_on': Input should be 'LOW'"),
        (
            _negative_bake,
            "environment \"prod\": field 'bake_minutes': Input should be greater than or equal",
        ),
        (
            _canary_without_steps,
            "environment \"prod\": field 'traffic_shift': canary needs step_percent and "
            "step_minutes",
        ),
        (
            _linear_step_below_ecs_minimum,
            "environment \"prod\": field 'traffic_shift': linear step_percent must be 3 to 100 "
            "in steps of 0.1, got 2",
        ),
        (
            _blue_green_with_steps,
            "environment \"dev\": field 'traffic_shift': step_percent and step_minutes apply "
            "to canary and linear only",
        ),
        (
            _unknown_strategy,
            "environment \"staging\": field 'traffic_shift.strategy': Input should be "
            "'blue_green', 'canary' or 'linear'",
        ),
        (
            _bad_retention,
            "environment \"dev\": field 'network.flow_log_retention_days': Input should be 1, 3",
        ),
        (
            _certificate_outside_us_east_1,
            "environment \"prod\": field 'frontend.certificate_arn': must be an ACM certificate "
            "in us-east-1 (the only region CloudFront reads certificates from), "
            "got one in 'eu-west-1'",
        ),
        (
            _certificate_not_an_arn,
            "environment \"prod\": field 'frontend.certificate_arn': must look like "
            "arn:aws:acm:us-east-1:",
        ),
        (
            _domain_without_certificate,
            "environment \"staging\": field 'frontend': domain_names need a certificate_arn",
        ),
        (
            _bad_domain_name,
            "environment \"prod\": field 'frontend.domain_names.0': must be a lower-case DNS name",
        ),
        (
            _unknown_price_class,
            "environment \"dev\": field 'frontend.price_class': Input should be 'PriceClass_100'",
        ),
        (
            _zero_log_retention,
            "environment \"dev\": field 'frontend.log_retention_days': "
            "Input should be greater than or equal to 1",
        ),
        (
            _waf_rate_limit_too_low,
            "environment \"staging\": field 'waf.rate_limit': "
            "Input should be greater than or equal to 100",
        ),
        (
            _waf_rate_limit_too_high,
            "environment \"prod\": field 'waf.rate_limit': "
            "Input should be less than or equal to 20000000",
        ),
        (
            _waf_enabled_as_string,
            "environment \"dev\": field 'waf.enabled': Input should be a valid boolean",
        ),
        (
            _bad_alert_email,
            "environment \"prod\": field 'budget.alert_emails.0': must be an email address, "
            "got 'platform-team.example.com'",
        ),
        (
            _no_alert_email,
            "environment \"dev\": field 'budget.alert_emails': List should have at least 1 item",
        ),
        (
            _zero_budget,
            "environment \"staging\": field 'budget.monthly_limit_usd': "
            "Input should be greater than 0",
        ),
        (
            _threshold_out_of_range,
            "environment \"dev\": field 'budget.thresholds.0': "
            "Input should be greater than or equal to 1",
        ),
        (
            _repeated_threshold,
            "environment \"prod\": field 'budget': thresholds must not repeat a value",
        ),
        (_missing_budget, "environment \"staging\": field 'budget': required field is missing"),
        (
            _fargate_pair_rejected,
            "environment \"staging\": field 'services.api': Fargate does not accept cpu 512 "
            "with memory 512",
        ),
        (
            _fargate_cpu_unknown,
            "environment \"dev\": field 'services.worker': cpu 300 is not a Fargate size",
        ),
        (
            _min_tasks_above_max,
            "environment \"prod\": field 'services.api': min_tasks (20) cannot exceed "
            "max_tasks (12)",
        ),
        (
            _acu_out_of_bounds,
            "environment \"prod\": field 'database.max_acu': must be between 0 and 256 ACU",
        ),
        (
            _acu_not_half_step,
            "environment \"dev\": field 'database.max_acu': must be between 0 and 256 ACU in "
            "steps of 0.5, got 1.3",
        ),
        (
            _min_acu_above_max,
            "environment \"staging\": field 'database': min_acu (8) cannot exceed max_acu (4)",
        ),
        (
            _prod_pauses,
            "environment \"prod\": field 'database': min_acu must be at least 0.5 where "
            "protect_data is true",
        ),
        (
            _backup_retention_too_long,
            "environment \"prod\": field 'database.backup_retention_days': "
            "Input should be less than or equal to 35",
        ),
        (
            _bad_email,
            "environment \"prod\": field 'alarms.emails.0': must be an email address, got "
            "'oncall.example.com'",
        ),
        (
            _retired_alb_section,
            "environment \"prod\": field 'alb': retired: CloudFront reaches the internal ALB "
            "through a VPC origin",
        ),
        (
            _receive_count_too_high,
            "environment \"dev\": field 'queue.max_receive_count': "
            "Input should be less than or equal to 5",
        ),
        (
            _unsized_service,
            "environment \"staging\": field 'services.worker': required field is missing "
            "(every service of [services] needs its size in every environment)",
        ),
        (
            _size_of_an_unknown_service,
            "environment \"prod\": field 'services.mailer': unknown service (not declared in "
            "the registry",
        ),
        (
            _retired_api_section,
            "environment \"dev\": field 'api': retired: service sizes live under "
            "[environments.services.<name>]",
        ),
        (
            _second_http_service,
            "top level: field 'services': needs exactly one service of kind \"http\"",
        ),
        (
            _consumer_without_publisher,
            "worker consume events, but no service has publishes_events = true",
        ),
        (
            _consumer_of_nothing,
            "[services.worker]: field 'consumes': List should have at least 1 item",
        ),
        (
            _malformed_event_type,
            "[services.worker]: field 'consumes.0': String should match pattern",
        ),
        (
            _unknown_service_kind,
            "[services.worker]: field 'kind': must be one of 'http', 'consumer'",
        ),
        (
            _http_service_without_port,
            "[services.api]: field 'port': required field is missing",
        ),
        (
            _service_name_with_hyphen,
            "[services]: field 'api-v2.[key]': a service name is 2 to 21 lower-case letters and "
            "digits, starting with a letter",
        ),
        (
            _reserved_service_name,
            "[services]: field 'alb.[key]': 'alb' is reserved",
        ),
        (
            _unknown_key_in_a_service,
            "[services.worker]: field 'alb': unknown key (not part of the environment file schema)",
        ),
        (
            _log_retention_not_accepted,
            "environment \"staging\": field 'log_retention_days': Input should be 1, 3",
        ),
        (
            _no_nat,
            "environment \"dev\": field 'network.nat_gateways': must be at least 1, got 0: the "
            "tasks in the private subnets reach ECR, ECR Public (the trace collector's image), "
            "X-Ray and the other AWS APIs only through NAT",
        ),
        (
            _sample_ratio_above_one,
            "environment \"prod\": field 'tracing.sample_ratio': Input should be less than or "
            "equal to 1",
        ),
        (
            _sample_ratio_as_string,
            "environment \"staging\": field 'tracing.sample_ratio': Input should be a valid number",
        ),
        (
            _sample_ratio_not_a_number,
            "environment \"dev\": field 'tracing.sample_ratio': Input should be a finite number",
        ),
        (
            _unknown_tracing_key,
            "environment \"dev\": field 'tracing.exporter': unknown key",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] if callable(value) else "",
)
def test_each_mistake_is_named_with_file_environment_and_field(
    raw_config: Raw, tmp_path: Path, mutate: Callable[[Raw], None], expected: str
) -> None:
    document = copy.deepcopy(raw_config)
    mutate(document)
    path = _write(tmp_path, document)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{path}: "), message
    assert expected in message


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "environments.toml"
    path.write_text('[project]\nname = "todo\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        load_config(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def _run(args: list[str], config_file: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DELIVERY_CONFIG": str(config_file),
        "CDK_OUTDIR": str(config_file.parent / "out"),
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "entry_point", [["app.py"], ["-m", "config.model"]], ids=["synth", "validate"]
)
def test_bad_file_ends_the_process_with_one_line_and_exit_2(
    raw_config: Raw, tmp_path: Path, entry_point: list[str]
) -> None:
    document = copy.deepcopy(raw_config)
    _short_dev_account(document)
    path = _write(tmp_path, document)
    args = [*entry_point, str(path)] if entry_point[0] == "-m" else entry_point

    completed = _run(args, path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.splitlines() == [
        f"error: {path}: environment \"dev\": field 'account': "
        "must be a 12-digit AWS account id, got '2222'"
    ]
    assert not (tmp_path / "out").exists(), "a bad file must not leave a partial cloud assembly"


def test_every_event_type_the_registry_consumes_is_one_the_services_publish(
    config: DeliveryConfig,
) -> None:
    """A misspelt type would validate and leave that consumer's queue silent forever."""
    from typing import get_args  # noqa: PLC0415

    from todo_common.events import EventType  # noqa: PLC0415 - the services' own list

    published = set(get_args(EventType))
    for name, consumer in config.consumers.items():
        assert set(consumer.consumes) <= published, name
