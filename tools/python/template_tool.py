"""Offline helpers for the template tests (tests/tests/template.rs).

    python template_tool.py decode TEMPLATE
        The template as JSON, intrinsic functions in their long form
        ({"Ref": ...}, {"Fn::Sub": ...}), as cfn-lint reads it.

    python template_tool.py translate TEMPLATE [PARAMETERS_JSON]
        The CloudFormation template the SAM transform produces, as JSON.
        Local CodeUri paths are replaced by S3 locations (what `sam package`
        does) and a local DefinitionUri is inlined as Definition, so the
        translation runs with no AWS account and no network.

    python template_tool.py iam-actions < ACTIONS_JSON
        For each IAM action in the JSON list: whether it exists and which
        resource types it can be scoped to, from parliament's copy of the
        AWS Service Authorization Reference. An action with no resource
        types has no resource-level permissions: only "*" fits it.

Everything is printed to stdout as JSON; errors go to stderr with exit 1.
"""

import json
import os
import sys


def decode(path):
    from cfnlint.decode import decode as cfn_decode

    template, matches = cfn_decode(path)
    if matches:
        raise SystemExit("\n".join(str(m) for m in matches))
    return template


def _localize(template, base_dir):
    """What `sam package` would do: code to S3, state machine definitions inline."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            code_uri = properties.get("CodeUri")
            if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
                properties["CodeUri"] = f"s3://toilkit-offline-translation/{logical_id}.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine":
            uri = properties.get("DefinitionUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                with open(os.path.join(base_dir, uri), encoding="utf-8") as f:
                    properties["Definition"] = json.load(f)
                del properties["DefinitionUri"]
    return template


def translate(path, parameters):
    # The translator derives the partition from the Region of its boto session.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = _localize(decode(path), os.path.dirname(os.path.abspath(path)))
    translator = Translator(
        managed_policy_map=None,
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=os.environ["AWS_DEFAULT_REGION"]),
    )
    return translator.translate(
        sam_template=template,
        parameter_values=parameters,
        get_managed_policy_map=lambda: {},
    )


def iam_actions(actions):
    import parliament

    known = {}
    for service in parliament.iam_definition:
        for privilege in service["privileges"]:
            name = f"{service['prefix']}:{privilege['privilege']}".lower()
            types = sorted(
                {r["resource_type"].rstrip("*") for r in privilege["resource_types"]} - {""}
            )
            known[name] = types
    return {
        action: {"known": action.lower() in known, "resource_types": known.get(action.lower(), [])}
        for action in actions
    }


def main(argv):
    if len(argv) >= 2 and argv[0] == "decode":
        result = decode(argv[1])
    elif len(argv) >= 2 and argv[0] == "translate":
        parameters = json.loads(argv[2]) if len(argv) > 2 else {}
        result = translate(argv[1], parameters)
    elif argv[:1] == ["iam-actions"]:
        result = iam_actions(json.load(sys.stdin))
    else:
        raise SystemExit(__doc__)
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SystemExit:
        raise
    except Exception as error:  # the test shows this text to whoever broke it
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
