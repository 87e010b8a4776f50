"""referral-engine's entry points for pytest and hypothesis, kept outside the library package.

pytest and hypothesis load their plugins in every run of an environment where referral-engine
is installed; a module inside ``referral_engine`` would import the whole library each time.
These modules import nothing of it until it is needed:

* :mod:`referral_engine_plugins.pytest_plugin` (``pytest11``: ``referral_engine``) collects the
  scenario files of rule sets;
* :mod:`referral_engine_plugins.hypothesis_hook` (``hypothesis``) registers the strategy for
  ``st.from_type(CaseProfile)``.
"""
