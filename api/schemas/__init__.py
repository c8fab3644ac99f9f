"""Request and response models of the API. Domain objects never leave the API as they are:
routers turn projection records into these models, and these models into domain values."""
